package main

// -bench mode: wireguard-go's own costs on this machine, for side-by-side
// figures with our engine (tools/bench/wg_bench.py). The handshake uses
// wireguard-go's exported Noise functions between two real devices; the data
// path uses the AEAD wireguard-go seals and opens transport packets with
// (golang.org/x/crypto/chacha20poly1305, in place, 1420-byte IP packets padded
// to 16 as wireguard-go does).

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

func newBenchDevice(addr string) (*device.Device, device.NoisePrivateKey, device.NoisePublicKey) {
	tdev, _, err := netstack.CreateNetTUN([]netip.Addr{netip.MustParseAddr(addr)}, nil, 1420)
	if err != nil {
		fail(err)
	}
	dev := device.NewDevice(tdev, &loopBind{}, device.NewLogger(device.LogLevelError, ""))
	var sk device.NoisePrivateKey
	rand.Read(sk[:])
	sk[0] &= 248
	sk[31] = (sk[31] & 127) | 64
	var pk device.NoisePublicKey
	p, _ := curve25519.X25519(sk[:], curve25519.Basepoint)
	copy(pk[:], p)
	if err := dev.SetPrivateKey(sk); err != nil {
		fail(err)
	}
	// Up before adding peers (peers of a down device are not running and
	// their initiations are refused); netstack's own "up" event races this.
	if err := dev.Up(); err != nil {
		fail(err)
	}
	return dev, sk, pk
}

func runBench(packets, handshakes int) {
	a, _, apk := newBenchDevice("10.98.0.1")
	b, _, bpk := newBenchDevice("10.98.0.2")
	pa, err := a.NewPeer(bpk)
	if err != nil {
		fail(err)
	}
	pb, err := b.NewPeer(apk)
	if err != nil {
		fail(err)
	}
	pa.Start()
	pb.Start()
	var tInit, tConsInit, tResp, tConsResp time.Duration
	done := 0
	for i := 0; i < handshakes; i++ {
		// wireguard-go refuses initiations closer than 20 ms (flood) and
		// TAI64N is whitened to ~16.8 ms: pace the loop (not timed).
		time.Sleep(25 * time.Millisecond)
		t0 := time.Now()
		mi, err := a.CreateMessageInitiation(pa)
		t1 := time.Now()
		if err != nil {
			fail(err)
		}
		peer := b.ConsumeMessageInitiation(mi)
		t2 := time.Now()
		if peer == nil {
			fail(fmt.Errorf("initiation refused"))
		}
		mr, err := b.CreateMessageResponse(peer)
		t3 := time.Now()
		if err != nil {
			fail(err)
		}
		if a.ConsumeMessageResponse(mr) == nil {
			fail(fmt.Errorf("response refused"))
		}
		t4 := time.Now()
		tInit += t1.Sub(t0)
		tConsInit += t2.Sub(t1)
		tResp += t3.Sub(t2)
		tConsResp += t4.Sub(t3)
		done++
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(done) }

	var key [32]byte
	rand.Read(key[:])
	aead, _ := chacha20poly1305.New(key[:])
	const plen = 1424 // 1420 padded to 16
	buf := make([]byte, 16+plen+16)
	var nonce [12]byte
	t0 := time.Now()
	for i := 0; i < packets; i++ {
		binary.LittleEndian.PutUint64(nonce[4:], uint64(i))
		aead.Seal(buf[16:16], nonce[:], buf[16:16+plen], nil)
	}
	seal := time.Since(t0)
	// Open: a fresh valid packet each time would need storage; open the
	// same sealed packet (identical work per call).
	binary.LittleEndian.PutUint64(nonce[4:], 7)
	sealed := aead.Seal(nil, nonce[:], buf[16:16+plen], nil)
	work := make([]byte, len(sealed))
	t0 = time.Now()
	for i := 0; i < packets; i++ {
		copy(work, sealed)
		if _, err := aead.Open(work[:0], nonce[:], work, nil); err != nil {
			fail(err)
		}
	}
	open := time.Since(t0)
	out := map[string]any{
		"impl":                         "wireguard-go",
		"handshakes":                   done,
		"create_initiation_us":         per(tInit) / 1000,
		"consume_initiation_us":        per(tConsInit) / 1000,
		"create_response_us":           per(tResp) / 1000,
		"consume_response_us":          per(tConsResp) / 1000,
		"handshake_total_us":           (per(tInit) + per(tConsInit) + per(tResp) + per(tConsResp)) / 1000,
		"seal_1420_ns":                 float64(seal.Nanoseconds()) / float64(packets),
		"open_1420_ns":                 float64(open.Nanoseconds()) / float64(packets),
		"seal_pps":                     float64(packets) / seal.Seconds(),
		"open_pps":                     float64(packets) / open.Seconds(),
		"note_open_includes_copy_1456": true,
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
	a.Close()
	b.Close()
}
