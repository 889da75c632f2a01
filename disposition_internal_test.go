package jobartifacts

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAttachmentDisposition: Rails' Content-Disposition for an archive,
// byte for byte, whether the name needs nothing escaped or a lot.
func TestAttachmentDisposition(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"artifacts.zip", "attachment; filename=\"artifacts.zip\"; filename*=UTF-8''artifacts.zip"},
		{"my report.zip", "attachment; filename=\"my report.zip\"; filename*=UTF-8''my%20report.zip"},
		{"résumé.zip", "attachment; filename=\"resume.zip\"; filename*=UTF-8''r%C3%A9sum%C3%A9.zip"},
		{"a\"b\\c.zip", "attachment; filename=\"a%22b%5Cc.zip\"; filename*=UTF-8''a%22b%5Cc.zip"},
		{"ü/ß€.zip", "attachment; filename=\"u%2Fss%3F.zip\"; filename*=UTF-8''%C3%BC%2F%C3%9F%E2%82%AC.zip"},
		{"a&b;c=d.zip", "attachment; filename=\"a%26b%3Bc%3Dd.zip\"; filename*=UTF-8''a&b%3Bc%3Dd.zip"},
		{"", "attachment; filename=\"\"; filename*=UTF-8''"},
		{"100%.zip", "attachment; filename=\"100%25.zip\"; filename*=UTF-8''100%25.zip"},
		{"日本.zip", "attachment; filename=\"%3F%3F.zip\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.zip"},
		{"tab\there", "attachment; filename=\"tab%3Fhere\"; filename*=UTF-8''tab%09here"},
		{"Œuvre-æ_ĳ~`|^$#!+.zip", "attachment; filename=\"OEuvre-ae_ij~`|^$#!+.zip\"; filename*=UTF-8''%C5%92uvre-%C3%A6_%C4%B3~`|^$#!+.zip"},
		{"\xff\xfe.zip", "attachment; filename=\"%3F%3F.zip\"; filename*=UTF-8''%FF%FE.zip"},
	} {
		require.Equal(t, tc.want, attachmentDisposition(tc.name), "%q", tc.name)
	}
}
