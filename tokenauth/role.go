package tokenauth

import (
	"fmt"
	"strings"
)

// Role is a user's role in a project, ordered as GitLab's access levels: a
// higher role can do everything a lower one can. The zero Role means "not a
// member".
type Role int

// The roles, with GitLab's access level numbers so that they compare the same
// way GitLab's do.
const (
	// NoRole: not a member of the project.
	NoRole Role = 0
	// Guest may see a private project but not read its jobs' artifacts
	// (unless the project has public pipelines).
	Guest Role = 10
	// Reporter may read artifacts.
	Reporter Role = 20
	// Developer may also keep artifacts and read artifacts:access developer.
	Developer Role = 30
	// Maintainer may also delete artifacts.
	Maintainer Role = 40
	// Owner may do everything a Maintainer may.
	Owner Role = 50
)

// ParseRole parses a role name as GitLab spells it, case-insensitively:
// "guest", "reporter", "developer", "maintainer" or "owner".
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "guest":
		return Guest, nil
	case "reporter":
		return Reporter, nil
	case "developer":
		return Developer, nil
	case "maintainer":
		return Maintainer, nil
	case "owner":
		return Owner, nil
	default:
		return NoRole, fmt.Errorf("tokenauth: role %q: %w", s, ErrUnknownRole)
	}
}

// String returns the role's lower-case name, or "none" for NoRole.
func (r Role) String() string {
	switch r {
	case NoRole:
		return "none"
	case Guest:
		return "guest"
	case Reporter:
		return "reporter"
	case Developer:
		return "developer"
	case Maintainer:
		return "maintainer"
	case Owner:
		return "owner"
	default:
		return fmt.Sprintf("Role(%d)", int(r))
	}
}

// valid reports whether r is one of the named member roles.
func (r Role) valid() bool {
	switch r {
	case Guest, Reporter, Developer, Maintainer, Owner:
		return true
	default:
		return false
	}
}

// MarshalText writes the role's name, so that roles appear by name in JSON.
func (r Role) MarshalText() ([]byte, error) {
	if !r.valid() {
		return nil, fmt.Errorf("tokenauth: %v: %w", r, ErrUnknownRole)
	}
	return []byte(r.String()), nil
}

// UnmarshalText parses a role name with ParseRole.
func (r *Role) UnmarshalText(text []byte) error {
	parsed, err := ParseRole(string(text))
	if err != nil {
		return err
	}
	*r = parsed
	return nil
}
