// Mutual TLS between two sets of stores, both directions in one JVM: proves each side trusts the
// other's certificate through its truststore (the server requires a client certificate).
// Usage: java MutualTls PASSWORD SERVER_KS SERVER_TS CLIENT_KS CLIENT_TS [SERVER_KS SERVER_TS CLIENT_KS CLIENT_TS ...]
// (PKCS#12 files). For each group of four: a loopback server with the first pair, a client with
// the second, one handshake; prints "RESULT <index> OK" or "RESULT <index> FAIL <exception>".
// Exit code 0 always once all were tried, so the test decides which outcomes are expected.
import java.io.FileInputStream;
import java.net.InetAddress;
import java.security.KeyStore;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class MutualTls {
    static KeyStore load(String file, char[] password) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (FileInputStream in = new FileInputStream(file)) {
            ks.load(in, password);
        }
        return ks;
    }

    static SSLContext context(String ksFile, String tsFile, char[] password) throws Exception {
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(load(ksFile, password), password);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(load(tsFile, password));
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx;
    }

    public static void main(String[] args) throws Exception {
        char[] password = args[0].toCharArray();
        for (int i = 1; i + 3 < args.length; i += 4) {
            int index = (i - 1) / 4;
            try {
                SSLContext server = context(args[i], args[i + 1], password);
                SSLContext client = context(args[i + 2], args[i + 3], password);
                SSLServerSocket ss = (SSLServerSocket) server.getServerSocketFactory().createServerSocket(0, 1, InetAddress.getLoopbackAddress());
                ss.setNeedClientAuth(true);
                AtomicReference<Exception> serverError = new AtomicReference<>();
                Thread t = new Thread(() -> {
                    try (SSLSocket s = (SSLSocket) ss.accept()) {
                        s.setSoTimeout(10000);
                        s.startHandshake();
                        s.getOutputStream().write(1);
                        s.getOutputStream().flush();
                    } catch (Exception e) {
                        serverError.set(e);
                    }
                });
                t.start();
                try (SSLSocket c = (SSLSocket) client.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), ss.getLocalPort())) {
                    c.setSoTimeout(10000);
                    c.startHandshake();
                    // TLS 1.3: the server's verdict on the client certificate arrives after the client's handshake; read it
                    if (c.getInputStream().read() != 1) throw new Exception("no byte from the server");
                } finally {
                    t.join(10000);
                    ss.close();
                }
                if (serverError.get() != null) throw serverError.get();
                System.out.println("RESULT " + index + " OK");
            } catch (Exception e) {
                System.out.println("RESULT " + index + " FAIL " + e.toString().replace('\n', ' '));
            }
        }
    }
}
