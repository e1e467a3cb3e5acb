package bench

import (
	"encoding/json"
	"log"
	"os"
	"testing"

	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// envTestConfig carries the test servers' addresses, as JSON, to the child
// that measureIdle starts: this test binary again.
const envTestConfig = "WSDIAL_BENCH_TEST_CONFIG"

// TestMain makes this test binary, started by measureIdle with a job in
// EnvIdleJob, the child benchclient is: it measures the job against the
// servers in envTestConfig and exits, failing as benchclient does, with a
// log line and status 1. Without it the child would run the tests again.
func TestMain(m *testing.M) {
	spec := os.Getenv(EnvIdleJob)
	if spec == "" {
		os.Exit(m.Run())
	}
	var cfg wire.Config
	if err := json.Unmarshal([]byte(os.Getenv(envTestConfig)), &cfg); err != nil {
		log.Fatalf("benchclient: the test servers' config: %v", err)
	}
	if err := RunIdleJob(&Env{Cfg: &cfg}, spec, os.Stdout); err != nil {
		log.Fatalf("benchclient: %v", err)
	}
	os.Exit(0)
}
