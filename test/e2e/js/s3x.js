// Drives aws-sdk for JavaScript v2 through s3xproxy as its users do; run
// by test/e2e/legacy_awsjs_test.go with S3X_ENDPOINT, the AWS_* keys, and the
// bucket and key prefix as arguments. Prints one JSON summary line.
"use strict";
const AWS = require("aws-sdk");
const assert = require("assert");

const [bucket, prefix, newBucket] = process.argv.slice(2);
const s3 = new AWS.S3({
  endpoint: process.env.S3X_ENDPOINT,
  region: "us-east-1",
  s3ForcePathStyle: true,
  signatureVersion: "v4",
  maxRetries: 0,
  accessKeyId: process.env.AWS_ACCESS_KEY_ID,
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
});

function body(n, seed) {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

async function main() {
  const out = {};
  const small = body(70000, 7);
  // putObject computes Content-MD5 and checks the answered ETag.
  await s3.putObject({ Bucket: bucket, Key: prefix + "small", Body: small }).promise();
  const got = await s3.getObject({ Bucket: bucket, Key: prefix + "small" }).promise();
  assert(Buffer.compare(got.Body, small) === 0, "getObject returned other bytes");
  const head = await s3.headObject({ Bucket: bucket, Key: prefix + "small" }).promise();
  assert.strictEqual(head.ContentLength, small.length);

  // upload: 12 MiB in 5 MiB parts (CreateMultipartUpload, UploadPart, Complete).
  const big = body((12 << 20) + 3, 9);
  const up = await s3.upload({ Bucket: bucket, Key: prefix + "big", Body: big }, { partSize: 5 << 20, queueSize: 2 }).promise();
  out.uploadETag = up.ETag;
  const gotBig = await s3.getObject({ Bucket: bucket, Key: prefix + "big" }).promise();
  assert(Buffer.compare(gotBig.Body, big) === 0, "multipart object differs");

  await s3.copyObject({ Bucket: bucket, Key: prefix + "dir/copy", CopySource: bucket + "/" + prefix + "small" }).promise();
  await s3.putObject({ Bucket: bucket, Key: prefix + "dir/b", Body: "b" }).promise();

  const keys = (r) => (r.Contents || []).map((c) => c.Key).sort();
  const prefixes = (r) => (r.CommonPrefixes || []).map((c) => c.Prefix).sort();
  const v1 = await s3.listObjects({ Bucket: bucket, Prefix: prefix }).promise();
  const v1d = await s3.listObjects({ Bucket: bucket, Prefix: prefix, Delimiter: "/" }).promise();
  const v2 = await s3.listObjectsV2({ Bucket: bucket, Prefix: prefix }).promise();
  const v2d = await s3.listObjectsV2({ Bucket: bucket, Prefix: prefix, Delimiter: "/" }).promise();
  out.v1 = keys(v1);
  out.v1d = keys(v1d).concat(prefixes(v1d));
  out.v2 = keys(v2);
  out.v2d = keys(v2d).concat(prefixes(v2d));

  out.presigned = s3.getSignedUrl("getObject", { Bucket: bucket, Key: prefix + "small", Expires: 300 });

  const del = await s3.deleteObjects({
    Bucket: bucket,
    Delete: { Objects: ["big", "dir/copy", "dir/b"].map((k) => ({ Key: prefix + k })) },
  }).promise();
  assert.strictEqual((del.Errors || []).length, 0, "deleteObjects errors");
  out.deleted = del.Deleted.length;

  if (newBucket) {
    await s3.createBucket({ Bucket: newBucket }).promise();
    await s3.headBucket({ Bucket: newBucket }).promise();
    await s3.deleteBucket({ Bucket: newBucket }).promise();
    out.bucketLifecycle = true;
  }
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error("aws-sdk v2:", err.code || "", err.statusCode || "", err.message);
  process.exit(1);
});
