// Package storetest is the conformance suite for implementations of the
// jobartifacts store contract: each subtest checks a sentence of the doc
// comments of MetadataStore, BlobStore, Blob and BlobInfo (and of
// ProjectJobReader, for a store that has it), including that every
// conditional write is atomic across processes.
//
// There is a suite per half and one for the pair, so that a host can test
// its own database or object store alone:
//
//   - RunMetadataStore tests a MetadataStore that can also be seeded
//     (Seeder): lookups, the artifact record rules, the blob deletion queue,
//     and the same races run on two views of one backing store.
//   - RunBlobStore tests a BlobStore: write-once puts, reads, range reads,
//     listing, deletion and signed URLs.
//   - Run tests a whole Store: both suites, plus StoreArtifact and the
//     Sweeper, which need both halves, and, if the harness can set the
//     store's clock (NewWithClock), the blob deletion queue on that clock.
//
// # Views
//
// Several replicas share one store in production, so every harness hands
// out views of one backing store, as gocloud.dev/blob/drivertest's
// MakeDriver does: New makes a fresh, empty backing store for one subtest
// and returns open, and each call of open returns another view of that
// same backing store, as another process would open it (fsstore: Open on
// the same directory; PostgreSQL: another pool on the same database; S3:
// another client on the same bucket). A store that lives in one process
// only may return the same value from every call. The suite runs its races
// with one goroutine group per view.
//
// New is called on the subtest's goroutine with the subtest's t, so
// t.TempDir, t.Cleanup and require may be used in it; so may they in open,
// which the suite also calls on that goroutine only.
//
// # Examples
//
// A metadata store, such as a PostgreSQL store, with a fresh database per
// subtest:
//
//	func TestMetadataConformance(t *testing.T) {
//		storetest.RunMetadataStore(t, storetest.MetadataHarness{
//			New: func(t *testing.T) func() storetest.MetadataUnderTest {
//				dsn := createDatabase(t) // fresh and empty; dropped by t.Cleanup
//				return func() storetest.MetadataUnderTest {
//					return pgstore.New(openPool(t, dsn)) // a pool per view
//				}
//			},
//		})
//	}
//
// An object-store blob half alone, such as an S3 store over a fresh
// bucket, whose multipart uploads cannot refuse an existing key:
//
//	func TestBlobConformance(t *testing.T) {
//		storetest.RunBlobStore(t, storetest.BlobHarness{
//			New: func(t *testing.T) func() jobartifacts.BlobStore {
//				bucket := createBucket(t)
//				return func() jobartifacts.BlobStore { return s3store.New(newClient(t), bucket) }
//			},
//			PutBlobNotConditional: true,
//			HTTPClient:            http.DefaultClient,
//		})
//	}
//
// A whole store whose views are opened on one directory:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			New: func(t *testing.T) func() storetest.StoreUnderTest {
//				dir := t.TempDir()
//				return func() storetest.StoreUnderTest {
//					s, err := fsstore.Open(dir)
//					require.NoError(t, err)
//					t.Cleanup(func() { _ = s.Close() })
//					return s
//				}
//			},
//		})
//	}
//
// # Values
//
// The suite seeds stores through Seeder only, and compares values with
// testify's require.Equal, so a store must give back what it was given: the
// suite uses UTC times with millisecond precision, and slices that are
// either nil or non-empty. Its goroutines only record what they saw; every
// check runs on the test goroutine.
package storetest

import (
	"net/http"
	"testing"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// MetadataUnderTest is a MetadataStore that the suite can seed.
type MetadataUnderTest interface {
	jobartifacts.MetadataStore
	Seeder
}

// StoreUnderTest is a Store that the suite can seed.
type StoreUnderTest interface {
	jobartifacts.Store
	Seeder
}

// MetadataHarness makes the metadata stores that RunMetadataStore tests.
type MetadataHarness struct {
	// New returns open for a fresh, empty backing store; each call of open
	// returns another view of it (see the package doc's "Views").
	New func(t *testing.T) (open func() MetadataUnderTest)
}

// BlobHarness makes the blob stores that RunBlobStore tests.
type BlobHarness struct {
	// New returns open for a fresh, empty backing store; each call of open
	// returns another view of it (see the package doc's "Views").
	New func(t *testing.T) (open func() jobartifacts.BlobStore)
	// PutBlobNotConditional says that PutBlob cannot tell that a key exists
	// (S3 multipart uploads): the suite then skips the cases that put an
	// existing key.
	PutBlobNotConditional bool
	// HTTPClient fetches signed URLs; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Harness makes the whole stores that Run tests.
type Harness struct {
	// New returns open for a fresh, empty backing store; each call of open
	// returns another view of it (see the package doc's "Views").
	New func(t *testing.T) (open func() StoreUnderTest)
	// PutBlobNotConditional is BlobHarness.PutBlobNotConditional.
	PutBlobNotConditional bool
	// HTTPClient is BlobHarness.HTTPClient.
	HTTPClient *http.Client
	// NewWithClock, if set, is New for a store whose clock (the one the
	// blob deletion queue stamps and compares with: memstore's and
	// fsstore's WithClock) is now, in every view: the suite then also runs
	// the cases that move the clock by hand where the others sleep.
	NewWithClock func(t *testing.T, now func() time.Time) (open func() StoreUnderTest)
}

// RunMetadataStore runs the metadata suite: every case gets a fresh backing
// store from h.New.
func RunMetadataStore(t *testing.T, h MetadataHarness) {
	t.Run("Seeder", func(t *testing.T) { runMetadataCases(t, h, seederCases()) })
	t.Run("Lookups", func(t *testing.T) { runMetadataCases(t, h, lookupCases()) })
	t.Run("ProjectJob", func(t *testing.T) { runMetadataCases(t, h, []metadataCase{{"IsProjectThenJob", testProjectJob}}) })
	t.Run("LatestSuccessfulJob", func(t *testing.T) { runLatestSuccessfulJob(t, oneView(h)) })
	t.Run("RecentSuccessfulJob", func(t *testing.T) { runRecentSuccessfulJob(t, oneView(h)) })
	t.Run("Artifacts", func(t *testing.T) { runMetadataCases(t, h, artifactCases()) })
	t.Run("Sweep", func(t *testing.T) { runMetadataCases(t, h, sweepCases()) })
	t.Run("BlobDeletionQueue", func(t *testing.T) { runMetadataCases(t, h, queueCases()) })
	// Everything another replica wrote is seen: the same cases, seeded
	// through one view and run through another.
	t.Run("SeededByAnotherView", func(t *testing.T) {
		seededElsewhere := MetadataHarness{New: func(t *testing.T) func() MetadataUnderTest {
			open := h.New(t)
			return func() MetadataUnderTest { return seededBy{open(), open()} }
		}}
		t.Run("Lookups", func(t *testing.T) { runMetadataCases(t, seededElsewhere, lookupCases()) })
		t.Run("Artifacts", func(t *testing.T) { runMetadataCases(t, seededElsewhere, artifactCases()) })
		t.Run("Sweep", func(t *testing.T) { runMetadataCases(t, seededElsewhere, sweepCases()) })
	})
	t.Run("AcrossViews", func(t *testing.T) { runViewCases(t, h, viewCases()) })
}

// RunBlobStore runs the blob suite: every case gets a fresh backing store
// from h.New.
func RunBlobStore(t *testing.T, h BlobHarness) {
	t.Run("Blobs", func(t *testing.T) { runBlobCases(t, h, blobCases()) })
	t.Run("RangeReader", func(t *testing.T) { runBlobCases(t, h, rangeReaderCases()) })
	t.Run("ListBlobs", func(t *testing.T) { runBlobCases(t, h, listCases()) })
	t.Run("WriteOnce", func(t *testing.T) {
		if h.PutBlobNotConditional {
			t.Skip("the harness says PutBlob cannot refuse an existing key")
		}
		runBlobCases(t, h, writeOnceCases())
	})
	t.Run("SignedURL", func(t *testing.T) { testSignedURL(t, h) })
	t.Run("AcrossViews", func(t *testing.T) { runBlobViewCases(t, h) })
}

// Run runs RunMetadataStore and RunBlobStore on the halves of the store
// that h makes, and the cases that need both: StoreArtifact and the Sweeper;
// then, with h.NewWithClock, those that move the store's clock.
func Run(t *testing.T, h Harness) {
	t.Run("Metadata", func(t *testing.T) {
		RunMetadataStore(t, MetadataHarness{New: func(t *testing.T) func() MetadataUnderTest {
			open := h.New(t)
			return func() MetadataUnderTest { return open() }
		}})
	})
	t.Run("Blob", func(t *testing.T) {
		RunBlobStore(t, BlobHarness{
			New: func(t *testing.T) func() jobartifacts.BlobStore {
				open := h.New(t)
				return func() jobartifacts.BlobStore { return open() }
			},
			PutBlobNotConditional: h.PutBlobNotConditional,
			HTTPClient:            h.HTTPClient,
		})
	})
	t.Run("StoreArtifact", func(t *testing.T) { runStoreCases(t, h, storeArtifactCases()) })
	t.Run("Sweeper", func(t *testing.T) { runStoreCases(t, h, sweeperCases()) })
	t.Run("Clock", func(t *testing.T) { runClockCases(t, h) })
}

// metadataCase is a subtest on one view of a fresh metadata store.
type metadataCase struct {
	name string
	run  func(t *testing.T, s MetadataUnderTest)
}

func runMetadataCases(t *testing.T, h MetadataHarness, cases []metadataCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, h.New(t)()) })
	}
}

// oneView returns a function that gives each subtest one view of a fresh
// metadata store.
func oneView(h MetadataHarness) func(t *testing.T) MetadataUnderTest {
	return func(t *testing.T) MetadataUnderTest { return h.New(t)() }
}

// viewCase is a subtest on two views of one fresh metadata store.
type viewCase struct {
	name string
	run  func(t *testing.T, a, b MetadataUnderTest)
}

func runViewCases(t *testing.T, h MetadataHarness, cases []viewCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			open := h.New(t)
			c.run(t, open(), open())
		})
	}
}

// blobCase is a subtest on one view of a fresh blob store.
type blobCase struct {
	name string
	run  func(t *testing.T, s jobartifacts.BlobStore)
}

func runBlobCases(t *testing.T, h BlobHarness, cases []blobCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, h.New(t)()) })
	}
}

// storeCase is a subtest on two views of one fresh whole store.
type storeCase struct {
	name string
	run  func(t *testing.T, a, b StoreUnderTest)
}

func runStoreCases(t *testing.T, h Harness, cases []storeCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			open := h.New(t)
			c.run(t, open(), open())
		})
	}
}
