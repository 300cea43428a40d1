package config

// intRange records an error unless lo <= n <= hi.
func (v *validator) intRange(p string, n, lo, hi int) {
	if n < lo || n > hi {
		v.errorf(p, "must be between %d and %d, got %d", lo, hi, n)
	}
}
