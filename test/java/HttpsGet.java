// HTTPS client that proves a JVM authenticates with our keystores: a client certificate from
// keystore (TYPE:PATH) and trust from truststore (TYPE:PATH), one GET of URL.
// Usage: java HttpsGet PASSWORD KEYSTORE TRUSTSTORE URL
// Prints "STATUS <code>" and the response body; exit code 0 once an HTTP answer came.
import java.io.FileInputStream;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class HttpsGet {
    static KeyStore load(String spec, char[] password) throws Exception {
        String[] s = spec.split(":", 2);
        KeyStore ks = KeyStore.getInstance(s[0]);
        try (FileInputStream in = new FileInputStream(s[1])) {
            ks.load(in, password);
        }
        return ks;
    }

    public static void main(String[] args) throws Exception {
        char[] password = args[0].toCharArray();
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(load(args[1], password), password);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(load(args[2], password));
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        HttpsURLConnection c = (HttpsURLConnection) new URL(args[3]).openConnection();
        c.setSSLSocketFactory(ctx.getSocketFactory());
        c.setConnectTimeout(10000);
        c.setReadTimeout(10000);
        int code = c.getResponseCode();
        InputStream body = code < 400 ? c.getInputStream() : c.getErrorStream();
        System.out.println("STATUS " + code);
        System.out.println(new String(body.readAllBytes(), StandardCharsets.UTF_8));
    }
}
