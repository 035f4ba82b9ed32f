// TLS server that proves a JVM can serve with our keystores.
// Usage: java TlsServer.java PASSWORD TYPE:PATH [TYPE:PATH ...]
// Opens one loopback listener per keystore on an ephemeral port (port 0, so no races) and
// prints "LISTENING <index> <port>" for each; serves until killed. One JVM for all stores
// keeps the test fast (each JVM start costs about a second on a small machine).
//        java TlsServer --serve PORT
// The walkthrough's service in a pod (hack/image.sh java): one listener on every address, with the
// JVM's default SSLContext, i.e. the stores a Java application is given through the standard
// javax.net.ssl.keyStore/keyStorePassword properties (the examples' JAVA_OPTS).
import java.io.FileInputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSocket;

public class TlsServer {
    public static void main(String[] args) throws Exception {
        if (args[0].equals("--serve")) {
            // SSLContext.getDefault() throws when the stores do not load: the pod fails visibly
            SSLServerSocketFactory factory = SSLContext.getDefault().getServerSocketFactory();
            SSLServerSocket server = (SSLServerSocket) factory.createServerSocket(Integer.parseInt(args[1]), 50);
            System.out.println("LISTENING 0 " + server.getLocalPort());
            System.out.flush();
            serve(server, 0);
            return;
        }
        char[] password = args[0].toCharArray();
        for (int i = 1; i < args.length; i++) {
            String[] spec = args[i].split(":", 2);
            KeyStore ks = KeyStore.getInstance(spec[0]);
            try (FileInputStream in = new FileInputStream(spec[1])) {
                ks.load(in, password);
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, password);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, null);
            SSLServerSocket server = (SSLServerSocket) ctx.getServerSocketFactory()
                .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
            int index = i - 1;
            Thread t = new Thread(() -> serve(server, index));
            t.setDaemon(false);
            t.start();
            System.out.println("LISTENING " + index + " " + server.getLocalPort());
        }
        System.out.flush();
    }

    static void serve(SSLServerSocket server, int index) {
        while (true) {
            try (SSLSocket s = (SSLSocket) server.accept()) {
                s.startHandshake();
                OutputStream out = s.getOutputStream();
                out.write(("hello from store " + index + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (Exception e) {
                System.err.println("store " + index + ": " + e);
            }
        }
    }
}
