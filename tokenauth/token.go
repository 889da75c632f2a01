package tokenauth

import "crypto/rand"

// Prefixes GitLab gives its tokens, so that secret scanners recognise them.
const (
	// PersonalTokenPrefix starts GitLab personal access tokens.
	PersonalTokenPrefix = "glpat-"
	// JobTokenPrefix starts GitLab CI/CD job tokens.
	JobTokenPrefix = "glcbt-"
)

// GeneratePersonalToken returns a new random personal access token:
// PersonalTokenPrefix followed by 128 bits from crypto/rand.
func GeneratePersonalToken() string { return PersonalTokenPrefix + rand.Text() }

// GenerateJobToken returns a new random job token: JobTokenPrefix followed
// by 128 bits from crypto/rand.
func GenerateJobToken() string { return JobTokenPrefix + rand.Text() }
