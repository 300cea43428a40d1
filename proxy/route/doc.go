// Package route maps a bucket name as a client said it (an alias, a full
// directory bucket name base--zone--x-s3, or an access point name
// base--zone--xa-s3) to the one upstream Zonal host that may be dialled for
// it, and builds the Regional control host.
//
// It is pure: no I/O, no clock, no configuration files. Every host it
// returns is assembled from validated pieces (the name itself, a zone id, a
// region and a DNS suffix, each restricted to [a-z0-9.-]), so nothing a
// client sends can steer the dialled host anywhere else. Errors it returns
// are *s3err.Error values (400 InvalidBucketName, 403 AccessDenied, 404
// NoSuchBucket, 400 InvalidRequest) that wrap one of this package's
// sentinels, so both errors.Is and s3err.From work on them.
package route
