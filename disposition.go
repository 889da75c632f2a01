package jobartifacts

import (
	"strings"
)

// defaultArchiveFilename is the name of nearly every archive (the runner's),
// and defaultArchiveDisposition its Content-Disposition, made once rather
// than on every download (TestAttachmentDisposition checks it).
const (
	defaultArchiveFilename    = "artifacts.zip"
	defaultArchiveDisposition = `attachment; filename="artifacts.zip"; filename*=UTF-8''artifacts.zip`
)

// archiveFilename is the name a whole archive is downloaded under.
func archiveFilename(a Artifact) string {
	if a.Filename == "" {
		return defaultArchiveFilename
	}
	return a.Filename
}

// attachmentDisposition builds the Content-Disposition GitLab (Rails) sends
// for a download: an ASCII fallback and the RFC 5987 UTF-8 name, e.g.
//
//	attachment; filename="artifacts.zip"; filename*=UTF-8''artifacts.zip
func attachmentDisposition(name string) string {
	if name == defaultArchiveFilename {
		return defaultArchiveDisposition
	}
	ascii, exact := name, name
	if !allSafe(name) {
		ascii, exact = percentEscape(transliterate(name), isTraditionalSafe), percentEscape(name, isRFC5987Safe)
	}
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + exact
}

// allSafe reports whether no byte of name needs transliterating or
// escaping in either parameter, as with most archive names.
func allSafe(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isTraditionalSafe(c) || !isRFC5987Safe(c) {
			return false
		}
	}
	return true
}

// transliterate spells name in ASCII as Rails' I18n.transliterate does:
// Latin letters lose their accents ("résumé" → "resume"), ligatures are
// spelled out, and anything else becomes "?".
func transliterate(name string) string {
	var b strings.Builder
	for _, c := range name {
		switch {
		case c >= 0x20 && c <= 0x7e:
			b.WriteRune(c)
		case latinASCII[c] != "":
			b.WriteString(latinASCII[c])
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// latinASCII is the Latin-1 and Latin Extended-A part of Rails' default
// transliteration table.
var latinASCII = func() map[rune]string {
	m := map[rune]string{
		'Æ': "AE", 'æ': "ae", 'Ð': "D", 'ð': "d", 'Ø': "O", 'ø': "o", 'Þ': "Th", 'þ': "th",
		'ß': "ss", 'Œ': "OE", 'œ': "oe", 'Đ': "D", 'đ': "d", 'Ħ': "H", 'ħ': "h", 'ı': "i",
		'Ĳ': "IJ", 'ĳ': "ij", 'ĸ': "k", 'Ŀ': "L", 'ŀ': "l", 'Ł': "L", 'ł': "l", 'ŉ': "'n",
		'Ŋ': "NG", 'ŋ': "ng", 'Ŧ': "T", 'ŧ': "t",
	}
	// Runs of accented letters, by the base letter each one carries.
	for _, run := range []struct {
		from rune
		base string
	}{
		{'À', "AAAAAA"}, {'Ç', "CEEEEIIII"}, {'Ñ', "NOOOOO"}, {'Ù', "UUUUY"},
		{'à', "aaaaaa"}, {'ç', "ceeeeiiii"}, {'ñ', "nooooo"}, {'ù', "uuuuy"}, {'ÿ', "y"},
		{'Ā', "AaAaAaCcCcCcCcDd"}, {'Ē', "EeEeEeEeEeGgGgGgGgHh"}, {'Ĩ', "IiIiIiIi"}, {'İ', "I"},
		{'Ĵ', "JjKk"}, {'Ĺ', "LlLlLl"}, {'Ń', "NnNnNn"}, {'Ō', "OoOoOo"}, {'Ŕ', "RrRrRrSsSsSsSs"},
		{'Ţ', "TtTt"}, {'Ũ', "UuUuUuUuUuUuWwYyYZzZzZz"},
	} {
		for i, base := range run.base {
			m[run.from+rune(i)] = string(base)
		}
	}
	return m
}()

// isTraditionalSafe: the characters Rails leaves as they are in filename="…".
func isTraditionalSafe(c byte) bool {
	return isAlnum(c) || strings.IndexByte(" !#$+.^_`|~-", c) >= 0
}

// isRFC5987Safe: attr-char of RFC 5987, what may stand unescaped in filename*.
func isRFC5987Safe(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$&+.^_`|~-", c) >= 0
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// percentEscape escapes every byte of s that safe refuses as %XX.
func percentEscape(s string, safe func(byte) bool) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; safe(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}
