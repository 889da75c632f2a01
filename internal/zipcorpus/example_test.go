package zipcorpus_test

import (
	"fmt"

	"github.com/ciartifacts/jobartifacts/internal/zipcorpus"
)

// SHA256 writes digests the way MANIFEST.tsv does, so a body can be compared
// with a row's SHA256 directly.
func ExampleSHA256() {
	fmt.Println(zipcorpus.SHA256(nil))
	// Output: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
}

// EscapePath leaves only unreserved bytes as they are, so "/", "%" and
// non-ASCII bytes all reach the server encoded once.
func ExampleEscapePath() {
	fmt.Println(zipcorpus.EscapePath("names/pct%41 é.txt"))
	// Output: names%2Fpct%2541%20%C3%A9.txt
}
