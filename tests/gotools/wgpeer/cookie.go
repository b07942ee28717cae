package main

// Cookie commands: wireguard-go's own CookieChecker (the responder side of
// the cookie mechanism, keyed with this peer's public key) answers messages
// the engine under test produced, and checks the mac2 it computes.
//
//	cookie <msghex> <srchex>     -> "OK cookie <replyhex>"
//	checkmac2 <msghex> <srchex>  -> "OK checkmac2" / "ERR checkmac2 ..."

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"

	"golang.zx2c4.com/wireguard/device"
)

var checker device.CookieChecker

func initCookieChecker(pub []byte) {
	var pk device.NoisePublicKey
	copy(pk[:], pub)
	checker.Init(pk)
}

func cookieCmd(f []string) {
	if len(f) != 3 {
		say("ERR %s usage", f[0])
		return
	}
	msg, err1 := hex.DecodeString(f[1])
	src, err2 := hex.DecodeString(f[2])
	if err1 != nil || err2 != nil || len(msg) < 8 {
		say("ERR %s bad hex", f[0])
		return
	}
	switch f[0] {
	case "cookie":
		if !checker.CheckMAC1(msg) {
			say("ERR cookie mac1")
			return
		}
		reply, err := checker.CreateReply(msg, binary.LittleEndian.Uint32(msg[4:8]), src)
		if err != nil {
			say("ERR cookie %v", err)
			return
		}
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, reply)
		say("OK cookie %s", hex.EncodeToString(b.Bytes()))
	case "checkmac2":
		if !checker.CheckMAC1(msg) {
			say("ERR checkmac2 mac1")
		} else if !checker.CheckMAC2(msg, src) {
			say("ERR checkmac2 mac2")
		} else {
			say("OK checkmac2")
		}
	}
}
