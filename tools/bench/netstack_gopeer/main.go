// netstack_gopeer: a wireguard-go peer whose userspace IP stack is gVisor's
// netstack (the TCP/IP stack Tailscale itself uses in userspace mode). It is
// the real counterpart for the tailnet netstack interop tests and benchmarks
// (tests/host/test_netstack_interop.py, tools/bench/netstack_bench.py).
// Loopback only (127.0.0.1); one peer.
//
//	stdout: "READY <udpport> <pubhex>", then one answer line per command
//	stdin:  "dial <addr> <port> <nbytes>"  TCP to the node, send nbytes (pattern), close the
//	                                        write side, read to EOF; prints
//	                                        "OK dial <recvd> <sha256(sent)> <sha256(recvd)> <ms>"
//	        "ping <addr> <seq>"             ICMP/ICMPv6 echo -> "OK ping <ms>"
//	        "udp <addr> <port> <hex>"       UDP from :5555, wait for one reply -> "OK udp <hex>"
//	        "quit"
// Services: UDP echo on :7 ("echo:" + payload), TCP echo on :80, TCP sink on :81
// (reads to EOF, answers "<n> <sha256hex>\n"), TCP source on :82 (reads a decimal
// byte count line, sends that many pattern bytes, closes).
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

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
	if !ok || !se.Addr().IsLoopback() {
		return fmt.Errorf("refusing endpoint")
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

func fail(err error) {
	fmt.Fprintln(os.Stderr, "netstack_gopeer:", err)
	os.Exit(1)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/1021)
	}
	return b
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func serveTCP(tnet *netstack.Net, addr netip.Addr, port uint16, h func(c net.Conn)) {
	l, err := tnet.ListenTCPAddrPort(netip.AddrPortFrom(addr, port))
	if err != nil {
		fail(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				h(c)
			}()
		}
	}()
}

func main() {
	privHex := flag.String("priv", "", "our private key (hex)")
	peerHex := flag.String("peer", "", "peer public key (hex)")
	peerEP := flag.String("peer-endpoint", "", "peer endpoint 127.0.0.1:port")
	addr4 := flag.String("addr4", "100.64.0.2", "our IPv4 tunnel address")
	addr6 := flag.String("addr6", "fd7a:115c:a1e0::2", "our IPv6 tunnel address")
	peer4 := flag.String("peer4", "100.64.0.1", "peer IPv4 address")
	peer6 := flag.String("peer6", "fd7a:115c:a1e0::1", "peer IPv6 address")
	flag.Parse()

	a4, a6 := netip.MustParseAddr(*addr4), netip.MustParseAddr(*addr6)
	tdev, tnet, err := netstack.CreateNetTUN([]netip.Addr{a4, a6}, nil, 1280)
	if err != nil {
		fail(err)
	}
	dev := device.NewDevice(tdev, &loopBind{}, device.NewLogger(device.LogLevelError, "gopeer: "))
	cfg := fmt.Sprintf("private_key=%s\nlisten_port=0\npublic_key=%s\nallowed_ip=%s/32\nallowed_ip=%s/128\n",
		*privHex, *peerHex, *peer4, *peer6)
	if *peerEP != "" {
		cfg += "endpoint=" + *peerEP + "\n"
	}
	if err := dev.IpcSet(cfg); err != nil {
		fail(err)
	}
	if err := dev.Up(); err != nil {
		fail(err)
	}
	for _, a := range []netip.Addr{a4, a6} {
		echo, err := tnet.ListenUDPAddrPort(netip.AddrPortFrom(a, 7))
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
				echo.WriteTo(append([]byte("echo:"), buf[:n]...), from)
			}
		}()
		serveTCP(tnet, a, 80, func(c net.Conn) { io.Copy(c, c) })
		serveTCP(tnet, a, 81, func(c net.Conn) {
			h := sha256.New()
			n, _ := io.Copy(h, c)
			fmt.Fprintf(c, "%d %s\n", n, hex.EncodeToString(h.Sum(nil)))
		})
		serveTCP(tnet, a, 82, func(c net.Conn) {
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return
			}
			n, _ := strconv.Atoi(strings.TrimSpace(line))
			c.Write(pattern(n))
		})
	}
	uapi, _ := dev.IpcGet()
	port := ""
	for _, l := range strings.Split(uapi, "\n") {
		if strings.HasPrefix(l, "listen_port=") {
			port = l[len("listen_port="):]
		}
	}
	say("READY %s", port)

	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "dial":
			go dial(tnet, f)
		case "ping":
			go ping(tnet, f)
		case "udp":
			go udpCmd(tnet, f)
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

func dial(tnet *netstack.Net, f []string) {
	if len(f) != 4 {
		say("ERR dial usage")
		return
	}
	a, _ := netip.ParseAddr(f[1])
	p, _ := strconv.Atoi(f[2])
	n, _ := strconv.Atoi(f[3])
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	t0 := time.Now()
	c, err := tnet.DialContextTCPAddrPort(ctx, netip.AddrPortFrom(a, uint16(p)))
	if err != nil {
		say("ERR dial %v", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(120 * time.Second))
	data := pattern(n)
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(c)
		done <- b
	}()
	if _, err := c.Write(data); err != nil {
		say("ERR dial write %v", err)
		return
	}
	c.CloseWrite()
	got := <-done
	say("OK dial %d %s %s %d", len(got), shaHex(data), shaHex(got), time.Since(t0).Milliseconds())
}

func ping(tnet *netstack.Net, f []string) {
	if len(f) != 3 {
		say("ERR ping usage")
		return
	}
	a, _ := netip.ParseAddr(f[1])
	seq, _ := strconv.Atoi(f[2])
	pc, err := tnet.DialPingAddr(netip.Addr{}, a)
	if err != nil {
		say("ERR ping %v", err)
		return
	}
	defer pc.Close()
	var typ icmp.Type = ipv4.ICMPTypeEcho
	proto := 1
	if a.Is6() {
		typ = ipv6.ICMPTypeEchoRequest
		proto = 58
	}
	req := icmp.Echo{ID: 1, Seq: seq, Data: []byte("tailnet ping payload")}
	b, _ := (&icmp.Message{Type: typ, Body: &req}).Marshal(nil)
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	t0 := time.Now()
	if _, err := pc.Write(b); err != nil {
		say("ERR ping %v", err)
		return
	}
	buf := make([]byte, 1500)
	n, err := pc.Read(buf)
	if err != nil {
		say("ERR ping %v", err)
		return
	}
	m, err := icmp.ParseMessage(proto, buf[:n])
	if err != nil {
		say("ERR ping parse %v", err)
		return
	}
	e, ok := m.Body.(*icmp.Echo)
	if !ok || e.Seq != seq || string(e.Data) != string(req.Data) {
		say("ERR ping mismatch %v", m)
		return
	}
	say("OK ping %d", time.Since(t0).Milliseconds())
}

func udpCmd(tnet *netstack.Net, f []string) {
	if len(f) != 4 {
		say("ERR udp usage")
		return
	}
	a, _ := netip.ParseAddr(f[1])
	p, _ := strconv.Atoi(f[2])
	data, _ := hex.DecodeString(f[3])
	c, err := tnet.DialUDPAddrPort(netip.AddrPort{}, netip.AddrPortFrom(a, uint16(p)))
	if err != nil {
		say("ERR udp %v", err)
		return
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(data); err != nil {
		say("ERR udp %v", err)
		return
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		say("ERR udp %v", err)
		return
	}
	say("OK udp %s", hex.EncodeToString(buf[:n]))
}
