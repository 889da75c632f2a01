package jobartifacts

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidDuration reports an expire_in value that GitLab's duration
// language (ChronicDuration, as GitLab configures it) does not accept.
var ErrInvalidDuration = errors.New("jobartifacts: invalid duration")

// Seconds per unit, as ChronicDuration counts them: a month is 30 days and
// a year 365.25 days.
const (
	secondsPerMinute = 60
	secondsPerHour   = 60 * secondsPerMinute
	secondsPerDay    = 24 * secondsPerHour
	secondsPerWeek   = 7 * secondsPerDay
	secondsPerMonth  = 30 * secondsPerDay
	secondsPerYear   = 31557600 // 365.25 days
)

// unitSeconds returns the length in seconds of a unit word that
// ChronicDuration knows.
func unitSeconds(word string) (float64, bool) {
	switch word {
	case "s", "sec", "secs", "second", "seconds":
		return 1, true
	case "m", "min", "mins", "minute", "minutes":
		return secondsPerMinute, true
	case "h", "hr", "hrs", "hour", "hours":
		return secondsPerHour, true
	case "d", "dy", "day", "days":
		return secondsPerDay, true
	case "w", "wk", "wks", "week", "weeks":
		return secondsPerWeek, true
	case "mo", "mos", "month", "months":
		return secondsPerMonth, true
	case "y", "yr", "yrs", "year", "years":
		return secondsPerYear, true
	default:
		return 0, false
	}
}

// ParseExpireIn parses a job artifacts expire_in value as GitLab does
// (Gitlab::Ci::Build::DurationParser over ChronicDuration) and returns the
// duration, or never == true when the artifacts must not expire.
//
// Accepted: "never" (any case); a bare number of seconds ("3600"); numbers
// followed by units, with or without a space, separated by spaces, commas
// or the words "and", "with", "plus" ("2 hrs 20 min", "3 weeks and 2 days",
// "1.5 days", "2h30m"); a leading unit counts once ("week" = "1 week"); and
// the clock form "h:m:s" ("1:30:00"). Units: s/sec/second(s),
// m/min/minute(s), h/hr/hour(s), d/day(s), w/wk/week(s) (7 days),
// mo/mos/month(s) (30 days), y/yr/year(s) (365.25 days); case does not
// matter. A total of zero ("0", "0 days", "") means never, as in GitLab.
// Any other word is an error wrapping ErrInvalidDuration. Spelled-out
// numbers ("one week"), which GitLab's Numerizer would read, are not
// accepted.
func ParseExpireIn(s string) (d time.Duration, never bool, err error) {
	text := strings.ToLower(strings.TrimSpace(s))
	if text == "never" {
		return 0, true, nil
	}
	if chrono, ok := chronoSeconds(text); ok {
		return secondsToDuration(chrono, s)
	}
	words, err := durationWords(text)
	if err != nil {
		return 0, false, fmt.Errorf("expire_in %q: %w", s, err)
	}
	var total float64
	for i, w := range words {
		n, isNumber := w.number()
		if !isNumber {
			continue
		}
		unit := 1.0 // a trailing number counts seconds
		if i+1 < len(words) {
			next := words[i+1]
			if mult, ok := unitSeconds(next.text); ok {
				unit = mult
			} else {
				unit = 0 // a number followed by a number adds nothing, as in ChronicDuration
			}
		}
		total += n * unit
	}
	return secondsToDuration(total, s)
}

func secondsToDuration(total float64, original string) (time.Duration, bool, error) {
	if total == 0 {
		return 0, true, nil
	}
	if total > math.MaxInt64/float64(time.Second) || math.IsInf(total, 0) || math.IsNaN(total) {
		return 0, false, fmt.Errorf("expire_in %q is too long: %w", original, ErrInvalidDuration)
	}
	return time.Duration(total * float64(time.Second)), false, nil
}

// durationWord is one token of an expire_in value: a number or a unit.
type durationWord struct {
	text     string
	isNumber bool
}

func (w durationWord) number() (float64, bool) {
	if !w.isNumber {
		return 0, false
	}
	n, err := strconv.ParseFloat(w.text, 64)
	return n, err == nil
}

// durationWords splits text into numbers and unit words, dropping join
// words and commas; a leading unit gets an implicit 1. Anything else is
// ErrInvalidDuration.
func durationWords(text string) ([]durationWord, error) {
	var words []durationWord
	for _, field := range strings.Fields(splitNumbers(text)) {
		if isDecimal(field) {
			// A number past float64's range would read as no number at
			// all, and the total as zero: never.
			if _, err := strconv.ParseFloat(field, 64); err != nil {
				return nil, fmt.Errorf("number %.20q… out of range: %w", field, ErrInvalidDuration)
			}
			words = append(words, durationWord{text: field, isNumber: true})
			continue
		}
		w := strings.TrimSuffix(strings.TrimPrefix(field, ","), ",")
		switch {
		case isUnit(w):
			words = append(words, durationWord{text: w})
		case w == "and" || w == "with" || w == "plus":
		default:
			return nil, fmt.Errorf("unknown word %q: %w", field, ErrInvalidDuration)
		}
	}
	if len(words) > 0 && !words[0].isNumber {
		words = append([]durationWord{{text: "1", isNumber: true}}, words...)
	}
	return words, nil
}

// splitNumbers puts spaces around every number (digits with at most one
// dot inside: ChronicDuration's [0-9]*\.?[0-9]+), so that "2hrs20min" reads
// as "2 hrs 20 min". A colon is kept for the clock form.
func splitNumbers(text string) string {
	var b strings.Builder
	for i := 0; i < len(text); {
		if n := numberPrefix(text[i:]); n > 0 {
			b.WriteByte(' ')
			b.WriteString(text[i : i+n])
			b.WriteByte(' ')
			i += n
			continue
		}
		if text[i] == ':' {
			b.WriteString(" : ")
		} else {
			b.WriteByte(text[i])
		}
		i++
	}
	return b.String()
}

// numberPrefix returns the length of the number at the start of s, or 0.
func numberPrefix(s string) int {
	digits := func(from int) int {
		i := from
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i
	}
	i := digits(0)
	if i < len(s) && s[i] == '.' {
		if j := digits(i + 1); j > i+1 {
			return j
		}
	}
	return i
}

func isUnit(w string) bool { _, ok := unitSeconds(w); return ok }

func isDecimal(s string) bool { return s != "" && numberPrefix(s) == len(s) }

// chronoSeconds reads the clock form "d:h:m:s" (two or more numbers joined
// by colons, nothing else), if text is one.
func chronoSeconds(text string) (float64, bool) {
	// From the right: seconds, minutes, hours, days, months, years (weeks
	// are skipped, as in ChronicDuration).
	chronoUnits := [...]float64{1, secondsPerMinute, secondsPerHour, secondsPerDay, secondsPerMonth, secondsPerYear}
	parts := strings.Split(strings.ReplaceAll(text, " ", ""), ":")
	if len(parts) < 2 || len(parts) > len(chronoUnits) {
		return 0, false
	}
	var total float64
	for i, p := range parts {
		if !isDecimal(p) {
			return 0, false
		}
		n, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return 0, false
		}
		total += n * chronoUnits[len(parts)-1-i]
	}
	return total, true
}
