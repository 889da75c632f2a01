package jobartifacts

import (
	"fmt"
	"io"
	"strings"
)

// archiveFilename is the name a whole archive is downloaded under.
func archiveFilename(a Artifact) string {
	if a.Filename == "" {
		return "artifacts.zip"
	}
	return a.Filename
}

// attachmentDisposition builds the Content-Disposition GitLab (Rails) sends
// for a download: an ASCII fallback and the RFC 5987 UTF-8 name, e.g.
//
//	attachment; filename="artifacts.zip"; filename*=UTF-8''artifacts.zip
func attachmentDisposition(name string) string {
	ascii := make([]rune, 0, len(name))
	for _, c := range name {
		if c > 0x7e || c < 0x20 {
			c = '?' // Rails transliterates what it cannot show in ASCII
		}
		ascii = append(ascii, c)
	}
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`,
		percentEscape(string(ascii), isTraditionalSafe), percentEscape(name, isRFC5987Safe))
}

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
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; safe(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// blobReadSeeker gives http.ServeContent the io.ReadSeeker it wants over a
// Blob's io.ReaderAt, without reading anything until asked.
type blobReadSeeker = io.SectionReader

func newBlobReadSeeker(b Blob, size int64) *blobReadSeeker {
	return io.NewSectionReader(b, 0, size)
}
