package jobartifacts

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseExpireInOverflow: a number too large for a float64 (issue 10,
// item 9: 400 nines) is as invalid as one that only overflows a Duration;
// it must never read as zero, which means "never expire".
func TestParseExpireInOverflow(t *testing.T) {
	nines := strings.Repeat("9", 400)
	for _, in := range []string{
		nines + " days",
		nines,
		nines + "." + nines + " s",
		"1 day " + nines + " weeks",
		nines + " " + nines, // a number followed by a number
		nines + ":00:00",
		"0 " + nines,
		"99999999999999 years",
	} {
		t.Run(in[max(0, len(in)-24):], func(t *testing.T) {
			d, never, err := ParseExpireIn(in)
			require.ErrorIs(t, err, ErrInvalidDuration, "got %v, never=%v", d, never)
			require.False(t, never)
			require.True(t, errors.Is(err, ErrInvalidDuration))
		})
	}
}
