"""Whole trees listed at once, answering for their keys as the pages arrive.

The outermost directory of a key is listed without a delimiter, up to a
limit of keys: a fresh prefix then costs one request for the whole run, and
a second run over 10,000 files ten (a page per 1,000 keys). S3 lists in
UTF-8 byte order, so a question waits only until the listing has passed its
key, while the store keeps to that order (listing_order.py). Part of the
bucket index (bucket_index.py), under its lock; directories and windows,
HEAD and the cache of answers are the index's, not this module's.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

from s3pput import log
from s3pput.errors import ListingUnavailableError
from s3pput.put.index_listings import (
    NOT_A_TREE,
    Answer,
    NotATree,
    Tree,
    Unsure,
    ancestors,
    parent_prefix,
)
from s3pput.transport.listed import Listed, PageEnd

__all__ = ["TreeListings"]

_log = log.get_logger("put")


class TreeListings:
    """The trees listed this run, by prefix; each filled by a thread of its own.

    Shares the index's lock through ``changed``, which is notified as the
    listings advance: ``out_of_order`` and ``remember`` are called with it held.
    """

    def __init__(
        self,
        list_tree: Callable[[str], Iterable[Listed | PageEnd]] | None,
        changed: threading.Condition,
        *,
        tree_limit: int,
        max_entries: int,
    ) -> None:
        self._list_tree = list_tree
        self._changed = changed
        self._tree_limit = tree_limit
        self._max_entries = max_entries
        self.trees: dict[str, Tree | NotATree] = {}
        self._order: OrderedDict[str, Tree] = OrderedDict()
        self._keys = 0
        self.lists = 0
        """How many prefixes were listed as whole trees."""
        self.byte_order = True
        """No listing of this store has come out of S3's byte order yet: while so,
        a tree listing answers for the keys it has passed (listing_order.py)."""

    def remember(self, chain: list[str], listed: Listed) -> None:
        """Note an object this run wrote in every tree of ``chain`` (its directories); lock held."""
        directory = parent_prefix(listed.key)
        for prefix in chain:
            tree = self.trees.get(prefix)
            if isinstance(tree, Tree):
                tree.directories.setdefault(directory, {})[listed.key] = listed

    def hint(self, keys: list[str]) -> None:
        """Start listing the tree that holds ``keys`` (a batch about to be asked about).

        The deepest directory common to a batch is the best guess at the root
        of what a run uploads: listing further out may cost many pages of
        other people's keys, and further in misses the batch's siblings. No
        tree is started for the bucket's top or where a tree already holds it.
        """
        if self._list_tree is None or not keys:
            return
        common = parent_prefix(os.path.commonprefix(keys))  # noqa: RUF071  # then cut at a slash
        if not common:
            return
        with self._changed:
            for prefix in [*ancestors(common), common]:
                tree = self.trees.get(prefix)
                if isinstance(tree, Tree) and tree.error is None and not tree.too_big:
                    return
        self._tree(common)

    def answer(self, key: str) -> Answer:
        """What a tree listing says of ``key``.

        The trees already started for the key's prefixes are asked first,
        outermost first; failing those, the key's own directory is listed as
        a tree. A question waits only until the listing has passed its key,
        and a tree too big to hold still answers for the keys it listed.
        """
        if self._list_tree is None:
            return Unsure.UNANSWERED
        directory = parent_prefix(key)
        with self._changed:
            started = [
                tree
                for prefix in [*ancestors(directory), directory]
                if isinstance(tree := self.trees.get(prefix), Tree) and tree.error is None
            ]
        for tree in started:
            found = self._ask(tree, key)
            if found is not Unsure.UNANSWERED:
                return found
        own = self._tree(directory)
        if isinstance(own, NotATree) or own in started:
            return Unsure.UNANSWERED
        return self._ask(own, key)

    def _ask(self, tree: Tree, key: str) -> Answer:
        """Wait until ``tree`` has passed ``key``; then what it says, if it can say."""
        with self._changed:
            self._changed.wait_for(lambda: tree.settled(key))
            if tree.error is not None:
                raise tree.error
            if not tree.answers(key):
                return Unsure.UNANSWERED
            found = tree.found(key)
            return Unsure.DOUBTFUL if found is None and tree.ends.doubt(key) else found

    def _tree(self, prefix: str) -> Tree | NotATree:
        """The tree of ``prefix``, its listing started (on its own thread) if it is new."""
        with self._changed:
            tree = self.trees.get(prefix)
            if tree is not None and not (isinstance(tree, Tree) and tree.error is not None):
                return tree
            tree = Tree()
            tree.order.ordered = self.byte_order
            self.trees[prefix] = tree
        threading.Thread(
            target=self._list_into, args=(prefix, tree), name="s3pput-tree", daemon=True
        ).start()
        return tree

    def _list_into(self, prefix: str, tree: Tree) -> None:
        """Listing thread: fill ``tree`` page by page and wake whoever waits on it."""
        assert self._list_tree is not None  # noqa: S101  # checked by answer
        try:
            for item in self._list_tree(prefix):
                with self._changed:
                    if isinstance(item, PageEnd):
                        tree.ends.add(item.after)
                        continue
                    if tree.size >= self._tree_limit:
                        tree.too_big = True
                        break
                    if not tree.take(item):
                        self.out_of_order(prefix, item.key)
                    self._changed.notify_all()
            else:
                with self._changed:
                    tree.complete = True
        except ListingUnavailableError:
            with self._changed:
                self.trees[prefix] = NOT_A_TREE
                tree.too_big = True
        except Exception as exc:  # noqa: BLE001  # handed to whoever asks, who reports it
            with self._changed:
                tree.error = exc
        with self._changed:
            self.lists += 1
            self._changed.notify_all()
            if tree.error is None:
                self._order[prefix] = tree
                self._keys += tree.size
                while len(self._order) > 1 and self._keys > self._max_entries:
                    old_prefix, old = self._order.popitem(last=False)
                    self._keys -= old.size
                    self.trees[old_prefix] = NOT_A_TREE  # forgotten: directories list it

    def out_of_order(self, prefix: str, key: str) -> None:
        """A listing came out of byte order: no listing of this store answers by progress now.

        Called under the lock. Questions then wait for complete listings
        (within the tree limit), or go to the key's directory, listed whole.
        """
        if not self.byte_order:
            return
        self.byte_order = False
        for tree in self.trees.values():
            if isinstance(tree, Tree):
                tree.order.ordered = False
        _log.info(
            "the store lists keys out of S3's byte order: a key is taken as absent "
            "only from a complete listing",
            prefix=prefix,
            key=key,
        )
