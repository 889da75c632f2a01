package tokenauth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGenerateTokens(t *testing.T) {
	tests := []struct {
		name     string
		generate func() string
		prefix   string
	}{
		{"personal", GeneratePersonalToken, "glpat-"},
		{"job", GenerateJobToken, "glcbt-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(map[string]bool)
			for range 100 {
				token := tt.generate()
				require.True(t, strings.HasPrefix(token, tt.prefix), token)
				// 128 random bits in base32: 26 characters after the prefix.
				require.Len(t, token, len(tt.prefix)+26)
				require.NotContains(t, token, " ")
				require.False(t, seen[token], "token repeated")
				seen[token] = true
			}
		})
	}
}
