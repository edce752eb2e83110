package ingress

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// identityHeader is the header upstream's x-rh-identity mode sends (4.4).
const identityHeader = "x-rh-identity"

// basicRealm is the realm in the WWW-Authenticate header of a 401.
const basicRealm = `Basic realm="wasmcollector ingress", charset="UTF-8"`

// authenticate checks the request's credentials against the configured modes and returns the
// user it authenticated: the Basic user name, else the identity's account number or org id. With
// no mode configured every request passes as "". With both, either one suffices; the error then
// gives both reasons.
func (s *Server) authenticate(r *http.Request) (string, error) {
	basic, identity := s.cfg.Username != "", s.cfg.RequireIdentity
	if !basic && !identity {
		return "", nil
	}
	var errs []error
	if basic {
		user, err := s.checkBasic(r)
		if err == nil {
			return user, nil
		}
		errs = append(errs, err)
	}
	if identity {
		user, err := checkIdentity(r.Header.Get(identityHeader))
		if err == nil {
			return user, nil
		}
		errs = append(errs, err)
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return "", reject(http.StatusUnauthorized, "%s", strings.Join(msgs, "; "))
}

func (s *Server) checkBasic(r *http.Request) (string, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", errors.New("basic auth: no credentials")
	}
	// Both comparisons always run, so the time taken does not tell which one failed.
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.Username))
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.Password))
	if userOK&passOK != 1 {
		return "", errors.New("basic auth: wrong user name or password")
	}
	return user, nil
}

// identity is the part of an x-rh-identity document the ingress reads.
type identity struct {
	Identity *struct {
		AccountNumber string `json:"account_number"`
		OrgID         string `json:"org_id"`
	} `json:"identity"`
}

// checkIdentity decodes an x-rh-identity header value and returns its account number, else its
// org id.
func checkIdentity(h string) (string, error) {
	if h == "" {
		return "", errors.New(identityHeader + ": no header")
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h))
	if err != nil {
		return "", errors.New(identityHeader + ": not base64: " + err.Error())
	}
	var id identity
	if err := json.Unmarshal(b, &id); err != nil {
		return "", errors.New(identityHeader + ": not a JSON identity: " + err.Error())
	}
	switch {
	case id.Identity == nil:
		return "", errors.New(identityHeader + ": no identity object")
	case id.Identity.AccountNumber != "":
		return id.Identity.AccountNumber, nil
	case id.Identity.OrgID != "":
		return id.Identity.OrgID, nil
	}
	return "", errors.New(identityHeader + ": identity has neither account_number nor org_id")
}
