from test_cli_e2e import Cli
def test_probe(pebble, tmp_path):
    cli = Cli(pebble, tmp_path)
    r = cli.run("certonly","--standalone","--agree-tos","--register-unsafely-without-email","--ip-address","::1","--http-01-address","::1","--http-01-port",str(pebble.http01_port),"-v")
    print(r.returncode, r.stdout, r.stderr)
    r = cli.run("certonly","--standalone","--agree-tos","--register-unsafely-without-email","--ip-address","::1","--http-01-address","::1","--preferred-challenges","tls-alpn-01","--tls-alpn-01-port",str(pebble.tlsalpn_port),"--force-renewal","--cert-name","v6alpn","-v")
    print(r.returncode, r.stdout, r.stderr)
    assert 0
