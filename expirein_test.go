package jobartifacts

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseExpireIn(t *testing.T) {
	const (
		day   = 24 * time.Hour
		week  = 7 * day
		month = 30 * day
		year  = 31557600 * time.Second // 365.25 days
	)
	tests := []struct {
		in      string
		want    time.Duration
		never   bool
		invalid bool
	}{
		// Never.
		{in: "never", never: true},
		{in: "Never", never: true},
		{in: "NEVER", never: true},
		{in: "  never  ", never: true},
		{in: "0", never: true},
		{in: "0 days", never: true},
		{in: "0s", never: true},
		{in: "", never: true}, // GitLab: "" is a present value that parses to zero
		// Bare seconds.
		{in: "1", want: time.Second},
		{in: "3600", want: time.Hour},
		{in: "86400", want: day},
		{in: "1.5", want: 1500 * time.Millisecond},
		// Every unit spelling.
		{in: "30 s", want: 30 * time.Second},
		{in: "30 sec", want: 30 * time.Second},
		{in: "30 secs", want: 30 * time.Second},
		{in: "1 second", want: time.Second},
		{in: "30 seconds", want: 30 * time.Second},
		{in: "5 m", want: 5 * time.Minute},
		{in: "5 min", want: 5 * time.Minute},
		{in: "5 mins", want: 5 * time.Minute},
		{in: "1 minute", want: time.Minute},
		{in: "5 minutes", want: 5 * time.Minute},
		{in: "2 h", want: 2 * time.Hour},
		{in: "2 hr", want: 2 * time.Hour},
		{in: "2 hrs", want: 2 * time.Hour},
		{in: "1 hour", want: time.Hour},
		{in: "2 hours", want: 2 * time.Hour},
		{in: "3 d", want: 3 * day},
		{in: "1 day", want: day},
		{in: "30 days", want: 30 * day},
		{in: "1 w", want: week},
		{in: "1 wk", want: week},
		{in: "2 wks", want: 2 * week},
		{in: "1 week", want: week},
		{in: "2 weeks", want: 2 * week},
		{in: "1 mo", want: month},
		{in: "6 mos", want: 6 * month},
		{in: "1 month", want: month},
		{in: "3 months", want: 3 * month},
		{in: "1 y", want: year},
		{in: "1 yr", want: year},
		{in: "2 yrs", want: 2 * year},
		{in: "1 year", want: year},
		{in: "2 years", want: 2 * year},
		// Combinations and separators.
		{in: "2 hrs 20 min", want: 2*time.Hour + 20*time.Minute},
		{in: "2hrs20min", want: 2*time.Hour + 20*time.Minute},
		{in: "2h30m", want: 2*time.Hour + 30*time.Minute},
		{in: "3 weeks and 2 days", want: 3*week + 2*day},
		{in: "1 day, 2 hours", want: day + 2*time.Hour},
		{in: "1 week, 2 days and 3 hours", want: week + 2*day + 3*time.Hour},
		{in: "1 hour with 30 minutes", want: 90 * time.Minute},
		{in: "1 hour plus 30 minutes", want: 90 * time.Minute},
		{in: "1.5 days", want: 36 * time.Hour},
		{in: ".5 hours", want: 30 * time.Minute},
		{in: "1 day 30", want: day + 30*time.Second}, // a trailing number counts seconds
		{in: "1 2 days", want: 2 * day},              // a number before a number adds nothing
		{in: "1 Week", want: week},
		{in: "2 HOURS", want: 2 * time.Hour},
		{in: "week", want: week}, // a leading unit counts once
		{in: "day 12 hours", want: day + 12*time.Hour},
		// Clock form.
		{in: "1:30:00", want: 90 * time.Minute},
		{in: "1:30", want: 90 * time.Second},
		{in: "2:00:00:00", want: 2 * day},
		// Invalid.
		{in: "1 fortnight", invalid: true},
		{in: "forever", invalid: true},
		{in: "soon", invalid: true},
		{in: "-1 day", invalid: true},
		{in: "1,000", invalid: true},
		{in: "1 day;", invalid: true},
		{in: "one week", invalid: true},
		{in: "1 week or 2", invalid: true},
		{in: "never ever", invalid: true},
		{in: "1e3", invalid: true},
		{in: "1 día", invalid: true},
		{in: "99999999999999 years", invalid: true},
	}
	require.GreaterOrEqual(t, len(tests), 40)
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, never, err := ParseExpireIn(tt.in)
			if tt.invalid {
				require.ErrorIs(t, err, ErrInvalidDuration)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.never, never, "never")
			require.Equal(t, tt.want, got)
		})
	}
}

func ExampleParseExpireIn() {
	for _, s := range []string{"1 week", "3 weeks and 2 days", "2 hrs 20 min", "never", "1 fortnight"} {
		d, never, err := ParseExpireIn(s)
		switch {
		case err != nil:
			fmt.Printf("%q: invalid\n", s)
		case never:
			fmt.Printf("%q: never\n", s)
		default:
			fmt.Printf("%q: %v\n", s, d)
		}
	}
	// Output:
	// "1 week": 168h0m0s
	// "3 weeks and 2 days": 552h0m0s
	// "2 hrs 20 min": 2h20m0s
	// "never": never
	// "1 fortnight": invalid
}
