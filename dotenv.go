package jobartifacts

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// A dotenv report (artifact_type=dotenv, artifact_format=gzip) is parsed
// at upload as GitLab's Ci::ParseDotenvArtifactService does, and refused
// with its answers: 400 and the service's message. The limits are GitLab's
// default plan limits (plan_limits.dotenv_size, dotenv_variables).
const (
	dotenvSizeLimit     = 5 << 10 // compressed bytes; the file must be smaller
	dotenvVariableLimit = 20
)

// ArtifactTypeDotenv is the artifact type of a dotenv report.
const ArtifactTypeDotenv = "dotenv"

var (
	errDotenvTooBig        = newAPIError(http.StatusBadRequest, "Dotenv Artifact Too Big. Maximum Allowable Size: "+strconv.Itoa(dotenvSizeLimit))
	errDotenvInvalidFormat = newAPIError(http.StatusBadRequest, "Invalid Format")
	errDotenvTooMany       = newAPIError(http.StatusBadRequest, "Dotenv files cannot have more than "+strconv.Itoa(dotenvVariableLimit)+" variables")
)

// dotenvKey is Ci::HasVariable's rule for a variable's key.
var dotenvKey = regexp.MustCompile(`\A[a-zA-Z0-9_]+\z`)

// checkDotenv reads a gzip dotenv report of size bytes and returns nil if
// GitLab would accept it, else the apiError GitLab answers. Each gzip
// member is read on its own, as GitLab's GzipStream#each_blob does; a
// stream that is not gzip is "Invalid Format" (ours: GitLab fails with a
// 500). Errors reading r are returned wrapped, for a 500.
func checkDotenv(r io.Reader, size int64) error {
	if size >= dotenvSizeLimit {
		return errDotenvTooBig
	}
	// The file is under 5 KiB: reading it whole is bounded, and lets a
	// storage error be told apart from a corrupt stream.
	data, err := io.ReadAll(io.LimitReader(r, dotenvSizeLimit))
	if err != nil {
		return fmt.Errorf("read dotenv report: %w", err)
	}
	var keys []string
	seen := make(map[string]bool)
	src := bytes.NewReader(data)
	for src.Len() > 0 {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return errDotenvInvalidFormat
		}
		zr.Multistream(false)
		// At most ~1032:1 for deflate: a 5 KiB member inflates to ~5 MiB.
		blob, err := io.ReadAll(zr)
		if err != nil {
			return errDotenvInvalidFormat
		}
		blob = bytes.TrimPrefix(blob, []byte("\xef\xbb\xbf"))
		lines := bufio.NewReader(bytes.NewReader(blob))
		for {
			line, readErr := lines.ReadString('\n')
			if line != "" {
				// GitLab: line.scan(/^(.*?)=(.*)$/), then strip both.
				key, _, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
				if !ok {
					return errDotenvInvalidFormat
				}
				key = strings.Trim(key, " \t\n\v\f\r\x00")
				if !seen[key] {
					seen[key] = true
					keys = append(keys, key)
				}
			}
			if errors.Is(readErr, io.EOF) {
				break
			}
		}
	}
	if len(keys) > dotenvVariableLimit {
		return errDotenvTooMany
	}
	for _, k := range keys {
		if msg := dotenvKeyProblems(k); msg != "" {
			return newAPIError(http.StatusBadRequest, "Validation failed: "+msg)
		}
	}
	return nil
}

// dotenvKeyProblems is ActiveRecord's full message for an invalid key, as
// Ci::HasVariable validates it (presence, length, format), or "".
func dotenvKeyProblems(key string) string {
	var problems []string
	if key == "" {
		problems = append(problems, "Key can't be blank")
	}
	if len([]rune(key)) > 255 {
		problems = append(problems, "Key is too long (maximum is 255 characters)")
	}
	if !dotenvKey.MatchString(key) {
		problems = append(problems, "Key can contain only letters, digits and '_'.")
	}
	return strings.Join(problems, ", ")
}
