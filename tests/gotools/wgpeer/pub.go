package main

import (
	"encoding/hex"

	"golang.org/x/crypto/curve25519"
	"golang.zx2c4.com/wireguard/device"
)

func publicOf(priv device.NoisePrivateKey) string {
	pub, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil {
		fail(err)
	}
	return hex.EncodeToString(pub)
}
