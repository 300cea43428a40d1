package signing

import (
	"net/http"
	"time"
)

func (v *Verifier) verifyV2Header(r *http.Request, auth, rawPath, rawQuery string, now time.Time) (*Result, error) {
	return nil, ErrUnsupportedAuth
}
func (v *Verifier) verifyV2Query(r *http.Request, rawPath, rawQuery string, now time.Time) (*Result, error) {
	return nil, ErrUnsupportedAuth
}
