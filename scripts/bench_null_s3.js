// A null S3 store for make bench-client (scripts/bench_null.py runs it in nginx with njs).
//
// It keeps nothing, but it answers as honestly as a store that kept everything
// and then forgot it: a PUT's ETag is the MD5 of the body it received (clients
// compare it with what they sent), a Content-MD5 that does not match the body
// is refused (400 BadDigest, as S3 does), a listing is empty, a HEAD or GET of
// an object is 404. It echoes nothing it cannot compute: no x-amz-checksum-*
// (njs has no CRC32), so a client that checks an echoed checksum has nothing
// to check rather than something false. Multipart uploads work: a part's ETag
// is its MD5, and the completed object's is S3's MD5-of-part-MD5s "-N", from
// the part ETags the completion lists (the parts themselves were not kept).
const crypto = require('crypto');

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';

function xml(r, status, body) {
    r.headersOut['Content-Type'] = 'application/xml';
    r.return(status, XML_HEAD + body);
}

function error(r, status, code, message) {
    if (r.method === 'HEAD') {
        r.return(status);
        return;
    }
    xml(r, status, `<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

function body(r) {
    // An empty body is an empty (detached) buffer, which Hash.update refuses;
    // a body nginx spilled to a file (larger than client_body_buffer_size)
    // is undefined: say so rather than hash nothing.
    if (r.headersIn['Content-Length'] === '0') {
        return '';
    }
    const data = r.requestBuffer;
    if (data === undefined) {
        return null;
    }
    return data.length === 0 ? '' : data;
}

function putBody(r) {
    const data = body(r);
    if (data === null) {
        error(r, 500, 'InternalError', 'body larger than client_body_buffer_size');
        return;
    }
    r.variables.received = String(data.length); // the access log's size: what was hashed
    const md5 = crypto.createHash('md5').update(data);
    const given = r.headersIn['Content-MD5'];
    if (given !== undefined) {
        const digest = md5.digest('base64');
        if (digest !== given) {
            error(r, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
            return;
        }
        r.headersOut.ETag = '"' + Buffer.from(digest, 'base64').toString('hex') + '"';
    } else {
        r.headersOut.ETag = '"' + md5.digest('hex') + '"';
    }
    r.return(200);
}

function listing(r, bucket) {
    const maxKeys = r.args['max-keys'] || '1000';
    const v2 = r.args['list-type'] === '2';
    xml(r, 200,
        `<ListBucketResult xmlns="${XMLNS}"><Name>${bucket}</Name><Prefix></Prefix>`
        + (v2 ? '<KeyCount>0</KeyCount>' : '<Marker></Marker>')
        + `<MaxKeys>${Number(maxKeys) || 0}</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`);
}

function initiate(r, bucket, key) {
    const id = crypto.createHash('md5').update(String(Math.random()) + key).digest('hex');
    xml(r, 200,
        `<InitiateMultipartUploadResult xmlns="${XMLNS}"><Bucket>${bucket}</Bucket>`
        + `<Key>${escapeXml(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
}

function complete(r, bucket, key) {
    const data = body(r);
    const text = data === null ? '' : data.toString();
    const etags = [];
    const re = /<ETag>(?:&quot;|")?([0-9a-fA-F]{32})(?:&quot;|")?<\/ETag>/g;
    let found = re.exec(text);
    while (found !== null) {
        etags.push(found[1]);
        found = re.exec(text);
    }
    if (etags.length === 0) {
        error(r, 400, 'MalformedXML', 'no part ETags in the completion');
        return;
    }
    const md5 = crypto.createHash('md5');
    etags.forEach((etag) => md5.update(Buffer.from(etag, 'hex')));
    const etag = `"${md5.digest('hex')}-${etags.length}"`;
    xml(r, 200,
        `<CompleteMultipartUploadResult xmlns="${XMLNS}"><Bucket>${bucket}</Bucket>`
        + `<Key>${escapeXml(key)}</Key><ETag>${escapeXml(etag)}</ETag></CompleteMultipartUploadResult>`);
}

function escapeXml(text) {
    return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
        .replace(/"/g, '&quot;');
}

function bucketRequest(r, bucket) {
    if (r.method === 'GET') {
        listing(r, bucket);
    } else if (r.method === 'PUT' || r.method === 'HEAD') {
        r.return(200); // the bucket exists, or now does
    } else {
        error(r, 501, 'NotImplemented', 'not implemented by the null store');
    }
}

function objectRequest(r, bucket, key) {
    const args = r.args;
    if (r.method === 'PUT') {
        if (r.headersIn['x-amz-copy-source'] !== undefined) {
            error(r, 501, 'NotImplemented', 'the null store keeps no object to copy');
        } else {
            putBody(r); // PutObject, or UploadPart (?partNumber&uploadId)
        }
    } else if (r.method === 'POST' && args.uploads !== undefined) {
        initiate(r, bucket, key);
    } else if (r.method === 'POST' && args.uploadId !== undefined) {
        complete(r, bucket, key);
    } else if (r.method === 'DELETE') {
        r.return(204);
    } else if (r.method === 'GET' || r.method === 'HEAD') {
        error(r, 404, 'NoSuchKey', 'The specified key does not exist.');
    } else {
        error(r, 501, 'NotImplemented', 'not implemented by the null store');
    }
}

function handle(r) {
    // Path style only: /bucket or /bucket/key (clients are given the endpoint as a URL).
    const path = r.uri.substring(1);
    const slash = path.indexOf('/');
    if (path === '') {
        error(r, 501, 'NotImplemented', 'no ListBuckets in the null store');
    } else if (slash < 0 || slash === path.length - 1) {
        bucketRequest(r, slash < 0 ? path : path.substring(0, slash));
    } else {
        objectRequest(r, path.substring(0, slash), path.substring(slash + 1));
    }
}

export default { handle };
