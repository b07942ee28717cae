// Program testcontrol runs Tailscale's own test control server
// (tailscale.com/tstest/integration/testcontrol) on a chosen loopback address, with
// its DERP + STUN servers, for the tailnet control-plane interop tests.
//
//	testcontrol -addr 127.0.0.1:9911 [-nfake N]
package main

import (
	"flag"
	"log"
	"net/http"
	"testing"

	"tailscale.com/tstest/integration"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/logger"
)

var (
	flagAddr  = flag.String("addr", "127.0.0.1:9911", "listen address")
	flagNFake = flag.Int("nfake", 0, "number of fake nodes to add to the network")
)

func main() {
	flag.Parse()
	var t fakeTB
	derpMap := integration.RunDERPAndSTUN(t, logger.Discard, "127.0.0.1")
	control := &testcontrol.Server{
		DERPMap:         derpMap,
		ExplicitBaseURL: "http://" + *flagAddr,
	}
	for range *flagNFake {
		control.AddFakeNode()
	}
	mux := http.NewServeMux()
	mux.Handle("/", control)
	log.Printf("listening on %s", *flagAddr)
	log.Fatal(http.ListenAndServe(*flagAddr, mux))
}

// fakeTB satisfies testing.TB for RunDERPAndSTUN outside of a test.
type fakeTB struct{ *testing.T }

func (t fakeTB) Cleanup(func())                    {}
func (t fakeTB) Error(args ...any)                 { log.Fatal(args...) }
func (t fakeTB) Errorf(format string, args ...any) { log.Fatalf(format, args...) }
func (t fakeTB) Fail()                             { log.Fatal("failed") }
func (t fakeTB) FailNow()                          { log.Fatal("failed") }
func (t fakeTB) Failed() bool                      { return false }
func (t fakeTB) Fatal(args ...any)                 { log.Fatal(args...) }
func (t fakeTB) Fatalf(format string, args ...any) { log.Fatalf(format, args...) }
func (t fakeTB) Helper()                           {}
func (t fakeTB) Log(args ...any)                   { log.Print(args...) }
func (t fakeTB) Logf(format string, args ...any)   { log.Printf(format, args...) }
func (t fakeTB) Name() string                      { return "testcontrol" }
func (t fakeTB) Setenv(key, value string)          { panic("not implemented") }
func (t fakeTB) Skip(args ...any)                  { log.Fatal(args...) }
func (t fakeTB) SkipNow()                          { log.Fatal("skip") }
func (t fakeTB) Skipf(format string, args ...any)  { log.Fatalf(format, args...) }
func (t fakeTB) Skipped() bool                     { return false }
func (t fakeTB) TempDir() string                   { panic("not implemented") }
