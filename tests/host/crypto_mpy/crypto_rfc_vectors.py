# RFC test vectors shared by the firmware script (MicroPython) and the CPython
# facade tests. Hex strings; plain data only (runs on both interpreters).
SUNSCREEN = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
             b"for the future, sunscreen would be it.")
IETF = (b"Any submission to the IETF intended by the Contributor for publication as all or part "
        b"of an IETF Internet-Draft or RFC and any statement made within the context of an IETF "
        b"activity is considered an \"IETF Contribution\". Such statements include oral statements "
        b"in IETF sessions, as well as written and electronic communications made at any time or "
        b"place, which are addressed to")
KEY_0_31 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
KEY_80 = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
Z32 = "00" * 32

# RFC 7748 §5.2 (scalar, u, out) and §6.1 (alice sk, bob sk, alice pk, bob pk, shared)
X25519_52 = [
    ("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
     "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
     "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
    ("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
     "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
     "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"),
]
X25519_ITER_1 = "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"
X25519_ITER_1000 = "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"
X25519_61 = ("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
             "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
             "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
             "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
             "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
# NaCl box test (same keys as §6.1): crypto_box_beforenm(bob_pk, alice_sk)
NACL_FIRSTKEY = "1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389"

# RFC 8439: chacha20 stream (key, nonce, counter, plaintext bytes, expected hex)
CHACHA = [
    ("8439 2.3.2", KEY_0_31, "000000090000004a00000000", 1, bytes(64),
     "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4ed2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"),
    ("8439 2.4.2", KEY_0_31, "000000000000004a00000000", 1, SUNSCREEN,
     "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d"),
    ("8439 A.1 #1", Z32, "00" * 12, 0, bytes(64),
     "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"),
    ("8439 A.1 #2", Z32, "00" * 12, 1, bytes(64),
     "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"),
    ("8439 A.4 #2", "00" * 31 + "01", "00" * 11 + "02", 0, bytes(32),
     "ecfa254f845f647473d3cb140da9e87606cb33066c447b87bc2666dde3fbb739"),
    ("8439 A.4 #3", "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0", "00" * 11 + "02", 0,
     bytes(32), "965e3bc6f9ec7ed9560808f4d229f94b137ff275ca9b3fcbdd59deaad23310ae"),
    ("8439 A.2 #2", "00" * 31 + "01", "00" * 11 + "02", 1, IETF,
     "a3fbf07df3fa2fde4f376ca23e82737041605d9f4f4f57bd8cff2c1d4b7955ec2a97948bd3722915c8f3d337f7d370050e9e96d647b7c39f56e031ca5eb6250d4042e02785ececfa4b4bb5e8ead0440e20b6e8db09d881a7c6132f420e52795042bdfa7773d8a9051447b3291ce1411c680465552aa6c405b7764d5e87bea85ad00f8449ed8f72d0d662ab052691ca66424bc86d2df80ea41f43abf937d3259dc4b2d0dfb48a6c9139ddd7f76966e928e635553ba76c5c879d7b35d49eb2e62b0871cdac638939e25e8a1e0ef9d5280fa8ca328b351c3c765989cbcf3daa8b6ccc3aaf9f3979c92b3720fc88dc95ed84a1be059c6499b9fda236e7e818b04b0bc39c1e876b193bfe5569753f88128cc08aaa9b63d1a16f80ef2554d7189c411f5869ca52c5b83fa36ff216b9c1d30062bebcfd2dc5bce0911934fda79a86f6e698ced759c3ff9b6477338f3da4f9cd8514ea9982ccafb341b2384dd902f3d1ab7ac61dd29c6f21ba5b862f3730e37cfdc4fd806c22f221"),
]
# RFC 8439 §2.5.2 and Appendix A.3: (name, key, msg hex, tag)
POLY1305 = [
    ("8439 2.5.2", "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
     "43727970746f6772617068696320466f72756d2052657365617263682047726f7570", "a8061dc1305136c6c22b8baf0c0127a9"),
    ("8439 A.3 #1", Z32, "00" * 64, "00" * 16),
    ("8439 A.3 #2", "00" * 16 + "36e5f6b5c5e06070f0efca96227a863e", IETF.hex(), "36e5f6b5c5e06070f0efca96227a863e"),
    ("8439 A.3 #3", "36e5f6b5c5e06070f0efca96227a863e" + "00" * 16, IETF.hex(), "f3477e7cd95417af89a6b8794c310cf0"),
    ("8439 A.3 #5", "02" + "00" * 31, "ff" * 16, "03" + "00" * 15),
    ("8439 A.3 #6", "02" + "00" * 15 + "ff" * 16, "02" + "00" * 15, "03" + "00" * 15),
    ("8439 A.3 #7", "01" + "00" * 31, "ff" * 16 + "f0" + "ff" * 15 + "11" + "00" * 15, "05" + "00" * 15),
    ("8439 A.3 #8", "01" + "00" * 31, "ff" * 16 + "fbfefefefefefefefefefefefefefefe" + "01" * 16, "00" * 16),
    ("8439 A.3 #9", "02" + "00" * 31, "fd" + "ff" * 15, "fa" + "ff" * 15),
    ("8439 A.3 #10", "0100000000000000040000000000000000000000000000000000000000000000",
     "e33594d7505e43b900000000000000003394d7505e4379cd01000000000000000000000000000000000000000000000001000000000000000000000000000000",
     "14000000000000005500000000000000"),
    ("8439 A.3 #11", "0100000000000000040000000000000000000000000000000000000000000000",
     "e33594d7505e43b900000000000000003394d7505e4379cd010000000000000000000000000000000000000000000000",
     "13000000000000000000000000000000"),
]
# RFC 8439 §2.8.2 and A.5 AEAD: (name, key, nonce, aad, pt bytes, ct||tag hex)
A5_CT = ("64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c8559797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523eaf4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a1049e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b02709b"
         "eead9d67890cbb22392336fea1851f38")
A5_PT = (b"Internet-Drafts are draft documents valid for a maximum of six months and may be updated, "
         b"replaced, or obsoleted by other documents at any time. It is inappropriate to use "
         b"Internet-Drafts as reference material or to cite them other than as /\xe2\x80\x9cwork in progress./\xe2\x80\x9d")
AEAD = [
    ("8439 2.8.2", KEY_80, "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7", SUNSCREEN,
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
     "1ae10b594f09e26a7e902ecbd0600691"),
    ("8439 A.5", "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
     "000000000102030405060708", "f33388860000000000004e91", A5_PT, A5_CT),
]
# RFC 7693 Appendix B and Appendix E (self-test grand hash).
BLAKE2S_ABC = "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"
BLAKE2S_SELFTEST = "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe"


def selftest_seq(n, seed):
    a = (0xDEAD4BAD * seed) & 0xFFFFFFFF
    b = 1
    out = bytearray(n)
    for i in range(n):
        t = (a + b) & 0xFFFFFFFF
        a = b
        b = t
        out[i] = t >> 24
    return bytes(out)


def blake2s_selftest(blake2s, Blake2s):
    # RFC 7693 Appendix E, through the facade's blake2s()/Blake2s.
    ctx = Blake2s(32)
    for outlen in (16, 20, 28, 32):
        for inlen in (0, 3, 64, 65, 255, 1024):
            data = selftest_seq(inlen, inlen)
            ctx.update(blake2s(data, b"", outlen))
            ctx.update(blake2s(data, selftest_seq(outlen, outlen), outlen))
    return ctx.digest()
