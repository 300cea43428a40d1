package route

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/s3xproxy/s3xproxy/proxy/s3err"
)

// Sentinels wrapped by the *s3err.Error values Resolve returns, for
// errors.Is.
var (
	// ErrInvalidName: the name is neither a configured alias, nor a valid
	// directory bucket / access point name, nor a valid general purpose bucket
	// name (400 InvalidBucketName).
	ErrInvalidName = errors.New("route: invalid bucket name")
	// ErrNotAllowed: DenyUnlisted is set and the name is not listed
	// (403 AccessDenied, as S3 hides whether a bucket exists).
	ErrNotAllowed = errors.New("route: bucket not allowed")
	// ErrNotDirectoryBucket: a valid general purpose name that is not an
	// alias; the proxy only reaches directory buckets (404 NoSuchBucket).
	ErrNotDirectoryBucket = errors.New("route: not a directory bucket or alias")
	// ErrFIPSPartition: FIPS requested for a region in the aws-cn partition
	// (400 InvalidRequest; protocol notes §1.3 "Partition does not support FIPS").
	ErrFIPSPartition = errors.New("route: partition does not support FIPS")
)

// Alias gives a directory bucket a legacy-friendly name.
type Alias struct {
	Name   string // valid general purpose bucket name, not itself --x-s3
	Target string // valid directory bucket (or access point) name
	// Anonymous is opaque to route and handed back in Target.Alias.
	Anonymous int
}

// Options configures a Router. Only Region is required.
type Options struct {
	// Region is the default region, used when a zone id is neither in Zones
	// nor follows the prefix rule. Required.
	Region string
	// Zones maps zone ids to regions, ahead of the prefix rule. Default:
	// none.
	Zones map[string]string
	// FIPS and Dualstack select the host variants of protocol notes §1.3.
	// Default false: the plain IPv4 endpoints.
	FIPS, Dualstack bool
	// Scheme is "https" (default) or "http" (emulator only).
	Scheme string
	// DNSSuffix, when set, replaces the partition's suffix (amazonaws.com, or
	// amazonaws.com.cn for cn-* regions) for every region. Default "": the
	// partition's own.
	DNSSuffix string
	// Aliases are resolved before anything else. Default: none.
	Aliases []Alias
	// DenyUnlisted allows only alias names, alias targets and Allow.
	// Default false.
	DenyUnlisted bool
	// Allow lists directory bucket names reachable under DenyUnlisted (alias
	// names may appear too; aliases are always reachable). Default: none.
	Allow []string
	// DefaultZone, when set (a zone id such as usw2-az1), makes a valid
	// general purpose name that is not an alias mean the directory bucket
	// <name>--<zone>--x-s3 (defaultzone.go). Default "" (off).
	DefaultZone string
}

// Target is where one bucket name goes.
type Target struct {
	Name   string   // the name as the client said it
	Bucket string   // the real directory bucket name ("" for Control)
	Zone   string   // zone id ("" for Control)
	Region string   // signing region
	Host   string   // the only host that may be dialled
	URL    *url.URL // scheme://Host, a fresh value the caller may modify
	// Alias is the alias the name matched, nil otherwise. It points into the
	// Router and must not be modified.
	Alias *Alias
}

// maxCached bounds the targets Resolve remembers for names that are not
// configured (alias names, alias targets and Allow entries are resolved
// once, by New). Bucket names come from clients, so a client cycling
// through valid names must not grow memory without limit.
const maxCached = 4096

// Router resolves bucket names. Its configuration is immutable after New;
// it caches resolved targets. Safe for concurrent use.
type Router struct {
	opts    Options
	aliases map[string]*Alias
	allowed map[string]bool // real names reachable under DenyUnlisted
	// Building a target costs a name parse, map lookups and a host string
	// per request; Resolve copies a cached one instead. fixed holds the
	// targets of every alias name (New fails if one does not resolve) and
	// of the names in allowed, built by New and read-only after it. cached
	// holds the targets (Target values, by name) of other names that
	// resolved, about maxCached at most: ncached counts the entries, and a
	// full cache is cleared (the names in use come back at once, and
	// nothing has to track recency).
	fixed   map[string]Target
	cached  sync.Map
	ncached atomic.Int64
}

// New validates opts and returns a Router. opts is copied; the caller may
// reuse it.
func New(opts Options) (*Router, error) {
	if opts.Scheme == "" {
		opts.Scheme = "https"
	}
	if err := validateOptions(&opts); err != nil {
		return nil, err
	}
	r := &Router{opts: opts, aliases: map[string]*Alias{}, allowed: map[string]bool{}, fixed: map[string]Target{}}
	zones := make(map[string]string, len(opts.Zones))
	for z, reg := range opts.Zones {
		zones[z] = reg
	}
	r.opts.Zones = zones
	for i := range opts.Aliases {
		a := opts.Aliases[i] // copy
		if !validGeneralName(a.Name) {
			return nil, fmt.Errorf("route: alias %q: invalid name", a.Name)
		}
		if !IsDirectoryBucket(a.Target) {
			return nil, fmt.Errorf("route: alias %q: target %q is not a valid directory bucket name", a.Name, a.Target)
		}
		if _, dup := r.aliases[a.Name]; dup {
			return nil, fmt.Errorf("route: alias %q defined twice", a.Name)
		}
		r.aliases[a.Name] = &a
		r.allowed[a.Target] = true
	}
	for _, name := range opts.Allow {
		if _, isAlias := r.aliases[name]; isAlias {
			continue // aliases are always listed
		}
		if !IsDirectoryBucket(name) {
			return nil, fmt.Errorf("route: allow %q: neither an alias nor a valid directory bucket name", name)
		}
		r.allowed[name] = true
	}
	// Every alias target must resolve (e.g. no FIPS in the cn partition).
	for _, a := range r.aliases {
		t, err := r.target(a.Name, a.Target, a)
		if err != nil {
			return nil, fmt.Errorf("route: alias %q: %w", a.Name, err)
		}
		r.fixed[a.Name] = t
	}
	// An Allow entry that does not resolve keeps failing in Resolve.
	for name := range r.allowed {
		if t, err := r.target(name, name, nil); err == nil {
			r.fixed[name] = t
		}
	}
	return r, nil
}

// validateOptions checks everything that ends up in a host name.
func validateOptions(o *Options) error {
	if o.Scheme != "https" && o.Scheme != "http" {
		return fmt.Errorf("route: scheme %q: want https or http", o.Scheme)
	}
	if !validRegion(o.Region) {
		return fmt.Errorf("route: default region %q is not a valid region", o.Region)
	}
	if o.DNSSuffix != "" && !validDNSName(o.DNSSuffix) {
		return fmt.Errorf("route: dns suffix %q is not a valid DNS name", o.DNSSuffix)
	}
	if o.FIPS && isChina(o.Region) {
		return fmt.Errorf("route: default region %q: %w", o.Region, ErrFIPSPartition)
	}
	if err := validateDefaultZone(o); err != nil {
		return err
	}
	for z, reg := range o.Zones {
		if !validZoneID(z) {
			return fmt.Errorf("route: zone %q is not a valid zone id", z)
		}
		if !validRegion(reg) {
			return fmt.Errorf("route: zone %q: region %q is not a valid region", z, reg)
		}
	}
	return nil
}

// Resolve maps a bucket name as the client said it to its Target: an alias
// first, then a directory bucket or access point name. Under DenyUnlisted
// only aliases, alias targets and Allow pass. Errors are *s3err.Error
// wrapping ErrInvalidName (400 InvalidBucketName), ErrNotAllowed (403
// AccessDenied), ErrNotDirectoryBucket (404 NoSuchBucket) or
// ErrFIPSPartition (400 InvalidRequest).
func (r *Router) Resolve(name string) (Target, error) {
	if t, ok := r.fixed[name]; ok {
		return t.withOwnURL(), nil
	}
	if v, ok := r.cached.Load(name); ok {
		return v.(Target).withOwnURL(), nil
	}
	if IsDirectoryBucket(name) {
		return r.resolveReal(name, name)
	}
	// A name ending in --x-s3 that failed the directory rules is not a
	// general purpose name either (validGeneralName rejects the suffix).
	if !validGeneralName(name) {
		return Target{}, s3err.Wrap(ErrInvalidName, http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	}
	if t, ok, err := r.resolveShort(name); ok {
		return t, err
	}
	if r.opts.DenyUnlisted {
		return Target{}, s3err.Wrap(ErrNotAllowed, http.StatusForbidden, "AccessDenied", "Access Denied")
	}
	return Target{}, s3err.Wrap(ErrNotDirectoryBucket, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
}

// remember caches t, a target built by Resolve, under its name.
// Concurrent misses of one name may count it twice: the cache is then
// cleared a little early, which is harmless.
func (r *Router) remember(t Target) {
	if r.ncached.Add(1) > maxCached {
		r.cached.Clear()
		r.ncached.Store(1)
	}
	r.cached.Store(t.Name, t)
}

// withOwnURL returns t with a copy of its URL: a cached target's URL is
// never handed out, so a caller may modify the one it gets.
func (t Target) withOwnURL() Target {
	u := *t.URL
	t.URL = &u
	return t
}

// target builds the Target of bucket, which must be a valid directory name.
func (r *Router) target(name, bucket string, a *Alias) (Target, error) {
	zone, ok := parseDirectory(bucket)
	if !ok { // unreachable: callers validated bucket
		return Target{}, s3err.Wrap(ErrInvalidName, http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	}
	region := r.regionOf(zone)
	suffix, err := r.suffix(region)
	if err != nil {
		return Target{}, s3err.Wrap(err, http.StatusBadRequest, "InvalidRequest", "Partition does not support FIPS")
	}
	var b strings.Builder
	b.Grow(len(bucket) + len(zone) + len(region) + len(suffix) + 40)
	b.WriteString(bucket)
	b.WriteString(".s3express-")
	if r.opts.FIPS {
		b.WriteString("fips-")
	}
	b.WriteString(zone)
	if r.opts.Dualstack {
		b.WriteString(".dualstack")
	}
	b.WriteByte('.')
	b.WriteString(region)
	b.WriteByte('.')
	b.WriteString(suffix)
	host := b.String()
	return Target{
		Name: name, Bucket: bucket, Zone: zone, Region: region, Host: host,
		URL: &url.URL{Scheme: r.opts.Scheme, Host: host}, Alias: a,
	}, nil
}

// Control returns the Regional control endpoint of region
// (s3express-control[-fips].[dualstack.]<region>.<suffix>, protocol notes
// §1.3). An empty or invalid region, or a cn region while FIPS is on, gets
// the default region instead, which New validated.
func (r *Router) Control(region string) Target {
	if !validRegion(region) {
		region = r.opts.Region
	}
	suffix, err := r.suffix(region)
	if err != nil {
		region = r.opts.Region
		suffix, _ = r.suffix(region)
	}
	host := "s3express-control"
	if r.opts.FIPS {
		host += "-fips"
	}
	if r.opts.Dualstack {
		host += ".dualstack"
	}
	host += "." + region + "." + suffix
	return Target{Region: region, Host: host, URL: &url.URL{Scheme: r.opts.Scheme, Host: host}}
}

// regionOf maps a zone id to its region: Zones, then the prefix rule, then
// the default region.
func (r *Router) regionOf(zone string) string {
	if reg, ok := r.opts.Zones[zone]; ok {
		return reg
	}
	if reg := regionFromZone(zone); reg != "" {
		return reg
	}
	return r.opts.Region
}

// suffix returns the DNS suffix for region: DNSSuffix when configured, else
// amazonaws.com.cn for cn-* regions and amazonaws.com for the rest. FIPS in a
// cn-* region is ErrFIPSPartition whatever the suffix.
func (r *Router) suffix(region string) (string, error) {
	if isChina(region) && r.opts.FIPS {
		return "", ErrFIPSPartition
	}
	switch {
	case r.opts.DNSSuffix != "":
		return r.opts.DNSSuffix, nil
	case isChina(region):
		return "amazonaws.com.cn", nil
	}
	return "amazonaws.com", nil
}

// isChina reports whether region is in the aws-cn partition.
func isChina(region string) bool { return strings.HasPrefix(region, "cn-") }
