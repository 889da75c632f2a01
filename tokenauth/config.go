package tokenauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Config is a set of users and job tokens in a form a file can hold, e.g.
//
//	{
//	  "users": [
//	    {"name": "alice", "tokens": ["glpat-…"], "roles": {"1": "maintainer"}},
//	    {"name": "bob", "tokens": ["…"], "expires_at": "2030-01-01T00:00:00Z", "roles": {"1": "reporter"}}
//	  ],
//	  "job_tokens": {"glcbt-…": 100}
//	}
//
// Role names are those of ParseRole; project ids are JSON object keys.
type Config struct {
	// Users are added with AddUser.
	Users []User `json:"users"`
	// JobTokens maps job tokens to job ids, added with AddJobToken.
	JobTokens map[string]int64 `json:"job_tokens,omitempty"`
}

// LoadConfig reads one JSON Config from r and checks it as Apply would, on
// an empty Authorizer. Unknown fields, unknown role names and trailing data
// are errors wrapping ErrInvalidConfig (or ErrUnknownRole,
// ErrDuplicateToken, ErrDuplicateUser for those).
func LoadConfig(r io.Reader) (Config, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, ErrUnknownRole) {
			return Config{}, fmt.Errorf("tokenauth: config: %w", err)
		}
		return Config{}, fmt.Errorf("tokenauth: config: %w: %w", ErrInvalidConfig, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Config{}, fmt.Errorf("tokenauth: config: data after the JSON object: %w", ErrInvalidConfig)
	}
	if err := New(nil).Apply(cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Apply adds every user and job token of cfg, or, if any of them cannot be
// added (see AddUser and AddJobToken), none of them.
func (a *Authorizer) Apply(cfg Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.addLocked(cfg.Users, cfg.JobTokens); err != nil {
		return fmt.Errorf("tokenauth: config: %w", err)
	}
	return nil
}
