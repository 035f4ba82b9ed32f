// TLS client that proves a JVM trusts servers through our truststores.
// Usage: java TlsClient.java PASSWORD TYPE:PATH:PORT [TYPE:PATH:PORT ...]
// For each target, loads the truststore, connects to 127.0.0.1:PORT (or -Dtls.host=ADDRESS: a pod),
// completes a handshake and prints "RESULT <index> OK" or "RESULT <index> FAIL <exception>", and
// after an OK "PEER <index> <SHA-256 fingerprint>" of the certificate the server presented (as
// keytool prints it), to tell which certificate a server serves. Exit code 0 always once all
// targets were tried, so the test decides which outcomes are expected.
import java.io.FileInputStream;
import java.net.InetAddress;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.util.HexFormat;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class TlsClient {
    public static void main(String[] args) throws Exception {
        char[] password = args[0].toCharArray();
        String host = System.getProperty("tls.host");
        InetAddress address = host == null ? InetAddress.getLoopbackAddress() : InetAddress.getByName(host);
        for (int i = 1; i < args.length; i++) {
            int index = i - 1;
            try {
                String spec = args[i];
                int lastColon = spec.lastIndexOf(':');
                int firstColon = spec.indexOf(':');
                String type = spec.substring(0, firstColon);
                String file = spec.substring(firstColon + 1, lastColon);
                int port = Integer.parseInt(spec.substring(lastColon + 1));
                KeyStore ts = KeyStore.getInstance(type);
                try (FileInputStream in = new FileInputStream(file)) {
                    ts.load(in, password);
                }
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ts);
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(null, tmf.getTrustManagers(), null);
                try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(address, port)) {
                    s.setSoTimeout(10000);
                    s.startHandshake();
                    System.out.println("RESULT " + index + " OK " + ts.size() + " anchors, " + s.getSession().getCipherSuite());
                    byte[] der = s.getSession().getPeerCertificates()[0].getEncoded();
                    String fp = HexFormat.ofDelimiter(":").withUpperCase().formatHex(MessageDigest.getInstance("SHA-256").digest(der));
                    System.out.println("PEER " + index + " " + fp);
                }
            } catch (Exception e) {
                System.out.println("RESULT " + index + " FAIL " + e.toString().replace('\n', ' '));
            }
        }
    }
}
