package route

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// ErrDefaultZoneName: a general purpose name whose default-zone directory
// name (<name>--<zone>--x-s3) breaks the directory bucket rules, e.g. too
// long or dotted (400 InvalidBucketName).
var ErrDefaultZoneName = errors.New("route: name does not fit the default zone")

// validZoneID reports whether z is a zone id the SDK endpoint rules accept
// (protocol notes §1.2).
func validZoneID(z string) bool {
	return isLabelish(z) && zoneLengths[len(z)] && !strings.Contains(z, "--")
}

func validateDefaultZone(o *Options) error {
	if o.DefaultZone != "" && !validZoneID(o.DefaultZone) {
		return fmt.Errorf("route: default zone %q is not a valid zone id", o.DefaultZone)
	}
	return nil
}

// inDefaultZone returns the directory bucket a general purpose name means
// under Options.DefaultZone: <name>--<zone>--x-s3. ok is false when the
// option is off.
func (r *Router) inDefaultZone(name string) (real string, ok bool) {
	if r.opts.DefaultZone == "" {
		return "", false
	}
	return name + "--" + r.opts.DefaultZone + "--x-s3", true
}

// resolveShort resolves a valid general purpose name that is not an alias
// under Options.DefaultZone. handled is false when the option is off.
func (r *Router) resolveShort(name string) (t Target, handled bool, err error) {
	real, ok := r.inDefaultZone(name)
	if !ok {
		return Target{}, false, nil
	}
	if !IsDirectoryBucket(real) {
		return Target{}, true, s3err.Wrap(ErrDefaultZoneName, http.StatusBadRequest, "InvalidBucketName",
			"The specified bucket is not valid: "+name+"--"+r.opts.DefaultZone+
				"--x-s3 is not a valid directory bucket name (at most 63 characters, no dots).")
	}
	t, err = r.resolveReal(name, real)
	return t, true, err
}

// resolveReal routes the directory bucket real, which the client called
// name (the same, or a short name under Options.DefaultZone), and caches
// it under name; under DenyUnlisted only Allow buckets pass.
func (r *Router) resolveReal(name, real string) (Target, error) {
	if r.opts.DenyUnlisted && !r.allowed[real] {
		return Target{}, s3err.Wrap(ErrNotAllowed, http.StatusForbidden, "AccessDenied", "Access Denied")
	}
	// A copy: name (and real, when it is name) may be a slice of the
	// client's request URI, which the cache must not keep alive.
	same := real == name
	name = strings.Clone(name)
	if same {
		real = name
	}
	t, err := r.target(name, real, nil)
	if err != nil {
		return Target{}, err
	}
	r.remember(t)
	return t.withOwnURL(), nil
}

// ClientName is the name a client uses for the real directory bucket
// real: its base name when real is in Options.DefaultZone and that base
// name is not an alias (an alias wins, so the base name would not reach
// real), else real itself. ListBuckets shows these names.
func (r *Router) ClientName(real string) string {
	if r.opts.DefaultZone == "" {
		return real
	}
	base, ok := strings.CutSuffix(real, "--"+r.opts.DefaultZone+"--x-s3")
	if !ok || !validGeneralName(base) {
		return real
	}
	if _, alias := r.aliases[base]; alias {
		return real
	}
	return base
}
