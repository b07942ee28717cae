// wgpeer: a WireGuard test peer built on wireguard-go with its userspace
// netstack (no TUN, no root). It listens on 127.0.0.1 only and talks to one
// peer (the engine under test). Control is line-based on stdin/stdout:
//
//	stdout: "READY <port> <pubhex>" once, then event lines:
//	        "ECHO <srcport> <hexpayload>"  (UDP datagram received and echoed;
//	                                        payloads over 64 bytes: first 64)
//	        "OK <cmd>" / "ERR <cmd> <msg>" / "OK stats <rx> <tx> <hs_sec>"
//	stdin:  "send <dstport> <hexpayload>"  UDP from <addr>:5555 to <peer-addr>:<dstport>
//	        "initiate"                     send a handshake initiation now
//	        "rekey"                        expire current keypairs and initiate
//	        "stats"                        rx/tx bytes and last handshake time
//	        "cookie <msghex> <srchex>", "checkmac2 <msghex> <srchex>" (cookie.go)
//	        "quit"
//
// The netstack answers ICMP echo requests itself; a UDP echo server listens
// on <addr>:7 and sends every datagram back prefixed with "echo:".
package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

// loopBind is a conn.Bind bound to 127.0.0.1 only (StdNetBind binds to all
// addresses).
type loopBind struct {
	mu sync.Mutex
	c  *net.UDPConn
}

func (b *loopBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)})
	if err != nil {
		return nil, 0, err
	}
	b.c = c
	recv := func(packets [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		n, ap, err := c.ReadFromUDPAddrPort(packets[0])
		if err != nil {
			return 0, err
		}
		sizes[0] = n
		eps[0] = &conn.StdNetEndpoint{AddrPort: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}
		return 1, nil
	}
	return []conn.ReceiveFunc{recv}, uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
}

func (b *loopBind) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c != nil {
		err := b.c.Close()
		b.c = nil
		return err
	}
	return nil
}

func (b *loopBind) SetMark(uint32) error { return nil }
func (b *loopBind) BatchSize() int       { return 1 }

func (b *loopBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	b.mu.Lock()
	c := b.c
	b.mu.Unlock()
	if c == nil {
		return net.ErrClosed
	}
	se, ok := ep.(*conn.StdNetEndpoint)
	if !ok {
		return conn.ErrWrongEndpointType
	}
	if !se.Addr().IsLoopback() {
		return fmt.Errorf("refusing non-loopback endpoint %v", se.AddrPort)
	}
	for _, buf := range bufs {
		if _, err := c.WriteToUDPAddrPort(buf, se.AddrPort); err != nil {
			return err
		}
	}
	return nil
}

func (b *loopBind) ParseEndpoint(s string) (conn.Endpoint, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil, err
	}
	return &conn.StdNetEndpoint{AddrPort: ap}, nil
}

var outMu sync.Mutex

func say(format string, a ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", a...)
}

func main() {
	privHex := flag.String("priv", "", "our private key (hex)")
	peerHex := flag.String("peer", "", "peer public key (hex)")
	peerEP := flag.String("peer-endpoint", "", "peer endpoint 127.0.0.1:port")
	addrS := flag.String("addr", "10.99.0.2", "our tunnel address")
	peerAddrS := flag.String("peer-addr", "10.99.0.1", "peer tunnel address")
	verbose := flag.Bool("v", false, "wireguard-go verbose log on stdout")
	bench := flag.Bool("bench", false, "print wireguard-go handshake/AEAD costs as JSON and exit")
	benchPackets := flag.Int("bench-packets", 20000, "packets for -bench")
	benchHandshakes := flag.Int("bench-handshakes", 40, "handshakes for -bench")
	flag.Parse()
	if *bench {
		runBench(*benchPackets, *benchHandshakes)
		return
	}

	addr := netip.MustParseAddr(*addrS)
	peerAddr := netip.MustParseAddr(*peerAddrS)
	tdev, tnet, err := netstack.CreateNetTUN([]netip.Addr{addr}, nil, 1420)
	if err != nil {
		fail(err)
	}
	level := device.LogLevelError
	if *verbose {
		level = device.LogLevelVerbose
	}
	dev := device.NewDevice(tdev, &loopBind{}, device.NewLogger(level, "wgpeer: "))
	cfg := fmt.Sprintf("private_key=%s\nlisten_port=0\npublic_key=%s\nallowed_ip=%s/32\n",
		*privHex, *peerHex, peerAddr)
	if *peerEP != "" {
		cfg += "endpoint=" + *peerEP + "\n"
	}
	if err := dev.IpcSet(cfg); err != nil {
		fail(err)
	}
	if err := dev.Up(); err != nil {
		fail(err)
	}
	var pk device.NoisePublicKey
	pkb, err := hex.DecodeString(*peerHex)
	if err != nil || len(pkb) != 32 {
		fail(fmt.Errorf("bad -peer"))
	}
	copy(pk[:], pkb)
	peer := dev.LookupPeer(pk)

	echo, err := tnet.ListenUDPAddrPort(netip.AddrPortFrom(addr, 7))
	if err != nil {
		fail(err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			shown := buf[:n]
			if len(shown) > 64 {
				shown = shown[:64] // keep bursts cheap: the prefix identifies them
			}
			say("ECHO %d %s", from.(*net.UDPAddr).Port, hex.EncodeToString(shown))
			echo.WriteTo(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	sender, err := tnet.ListenUDPAddrPort(netip.AddrPortFrom(addr, 5555))
	if err != nil {
		fail(err)
	}

	port := listenPort(dev)
	pub := pubHex(dev)
	pubb, _ := hex.DecodeString(pub)
	initCookieChecker(pubb)
	say("READY %d %s", port, pub)

	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "send":
			if len(f) != 3 {
				say("ERR send usage")
				continue
			}
			p, _ := strconv.Atoi(f[1])
			data, err := hex.DecodeString(f[2])
			if err != nil {
				say("ERR send %v", err)
				continue
			}
			_, err = sender.WriteTo(data, net.UDPAddrFromAddrPort(netip.AddrPortFrom(peerAddr, uint16(p))))
			if err != nil {
				say("ERR send %v", err)
				continue
			}
			say("OK send")
		case "initiate":
			if err := peer.SendHandshakeInitiation(false); err != nil {
				say("ERR initiate %v", err)
				continue
			}
			say("OK initiate")
		case "rekey":
			peer.ExpireCurrentKeypairs()
			if err := peer.SendHandshakeInitiation(false); err != nil {
				say("ERR rekey %v", err)
				continue
			}
			say("OK rekey")
		case "stats":
			rx, tx, hs := peerStats(dev)
			say("OK stats %d %d %d", rx, tx, hs)
		case "cookie", "checkmac2":
			cookieCmd(f)
		case "quit":
			dev.Close()
			say("OK quit")
			return
		default:
			say("ERR %s unknown", f[0])
		}
	}
	dev.Close()
}

func uapi(dev *device.Device) map[string]string {
	s, err := dev.IpcGet()
	if err != nil {
		fail(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok {
			m[k] = v // later keys (peer section) overwrite; one peer only
		}
	}
	return m
}

func listenPort(dev *device.Device) int {
	p, _ := strconv.Atoi(uapi(dev)["listen_port"])
	return p
}

func pubHex(dev *device.Device) string {
	// IpcGet reports the private key; derive the public key the same way
	// wireguard-go does.
	var priv device.NoisePrivateKey
	b, _ := hex.DecodeString(uapi(dev)["private_key"])
	copy(priv[:], b)
	return publicOf(priv)
}

func peerStats(dev *device.Device) (rx, tx, hs int64) {
	m := uapi(dev)
	rx, _ = strconv.ParseInt(m["rx_bytes"], 10, 64)
	tx, _ = strconv.ParseInt(m["tx_bytes"], 10, 64)
	hs, _ = strconv.ParseInt(m["last_handshake_time_sec"], 10, 64)
	return
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "wgpeer:", err)
	os.Exit(1)
}
