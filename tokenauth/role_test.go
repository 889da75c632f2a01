package tokenauth

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    Role
		wantErr error
	}{
		{"guest", Guest, nil},
		{"Reporter", Reporter, nil},
		{" developer ", Developer, nil},
		{"MAINTAINER", Maintainer, nil},
		{"owner", Owner, nil},
		{"", NoRole, ErrUnknownRole},
		{"none", NoRole, ErrUnknownRole},
		{"admin", NoRole, ErrUnknownRole},
		{"30", NoRole, ErrUnknownRole},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRole(tt.in)
			require.ErrorIs(t, err, tt.wantErr)
			require.Equal(t, tt.want, got)
			if tt.wantErr == nil {
				again, err := ParseRole(got.String())
				require.NoError(t, err)
				require.Equal(t, got, again, "String and ParseRole round-trip")
			}
		})
	}
}

func TestRoleOrderFollowsGitLabAccessLevels(t *testing.T) {
	levels := map[Role]int{Guest: 10, Reporter: 20, Developer: 30, Maintainer: 40, Owner: 50}
	for role, level := range levels {
		require.Equal(t, level, int(role), role.String())
	}
	require.Equal(t, "none", NoRole.String())
	require.Equal(t, "Role(25)", Role(25).String())
}

func TestRoleJSON(t *testing.T) {
	roles := map[int64]Role{1: Developer, 22: Owner}
	data, err := json.Marshal(roles)
	require.NoError(t, err)
	require.JSONEq(t, `{"1":"developer","22":"owner"}`, string(data))

	var back map[int64]Role
	require.NoError(t, json.Unmarshal(data, &back))
	require.Equal(t, roles, back)

	_, err = json.Marshal(map[int64]Role{1: NoRole})
	require.ErrorIs(t, err, ErrUnknownRole, "a non-member is left out, not written")
}
