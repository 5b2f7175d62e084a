"""The stat stage: put's result records summed into counts, bytes, rates and errors."""
