package proxy

import "net/url"

// emptyAsAbsent lists, per listing operation, the query parameters that S3
// treats alike whether they are absent or present with an empty value, and
// that the proxy therefore drops when empty. Clients send them empty:
// minio-go's recursive listing sends "delimiter=" and "prefix=", the AWS
// SDK for Go v1 "marker=". Directory buckets refuse a
// delimiter other than "/", the empty one included ("Delimiter must be "/"
// for directory buckets"), and do not support start-after, so forwarding them
// would fail listings that mean "no delimiter" and "from the start".
//
// The list is kept to parameters whose empty value can mean nothing else
// (S3's ListObjectsV2 and ListObjects API references: an empty prefix
// matches every key, an empty delimiter groups nothing, an empty marker or
// start-after starts at the beginning). encoding-type, max-keys,
// continuation-token and fetch-owner are forwarded as sent: S3 validates
// them, and an empty continuation-token is an error rather than "first
// page" (docs/compat.md).
var emptyAsAbsent = map[string][]string{
	"ListObjects":          {"delimiter", "prefix", "marker"},
	"ListObjectsV2":        {"delimiter", "prefix", "start-after"},
	"ListMultipartUploads": {"delimiter", "prefix"},
}

// normalizeListQuery removes from q, the parsed inbound query of operation
// op, the parameters of emptyAsAbsent whose every value is empty. It runs
// after the signature was checked over the query as sent.
func normalizeListQuery(op string, q url.Values) {
	for _, name := range emptyAsAbsent[op] {
		vs, ok := q[name]
		if !ok {
			continue
		}
		empty := true
		for _, v := range vs {
			empty = empty && v == ""
		}
		if empty {
			delete(q, name)
		}
	}
}
