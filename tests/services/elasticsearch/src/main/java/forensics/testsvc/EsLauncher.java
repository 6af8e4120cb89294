package forensics.testsvc;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.node.ClasspathPluginsNode;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Starts one real Elasticsearch node (server + netty4 HTTP/transport) for tests.
 *
 * <pre>
 * java -cp 'es-launcher.jar:lib/*' forensics.testsvc.EsLauncher --home DIR [options]
 *   --home DIR                  node home; data in DIR/data, fs snapshot repositories under DIR/snapshots (required)
 *   --data DIR                  data path (default: HOME/data)
 *   --host ADDR                 bind/publish address (default 127.0.0.1)
 *   --http-port N               HTTP port (default 9200)
 *   --transport-port N          transport port (default 9300)
 *   --node-name NAME            (default node-1)
 *   --cluster-name NAME         (default forensics-test)
 *   --seed-hosts H:P,H:P        join a multi-node cluster (default: single-node discovery)
 *   --initial-master-nodes A,B  node names that bootstrap a new multi-node cluster
 *   -E key=value                any other node setting (repeatable)
 * </pre>
 *
 * The node is a {@link ClasspathPluginsNode}: the real server, with plugins (netty4) loaded from
 * the classpath instead of a distribution's modules/ directory; no mock services.
 */
public final class EsLauncher {

    public static void main(String[] args) throws Exception {
        // before anything touches log4j; the test framework jar's log4j2-test.properties would win otherwise
        System.setProperty("log4j2.configurationFile", "es-launcher-log4j2.properties");
        Settings settings = parseArgs(args);
        Files.createDirectories(Path.of(settings.get("path.home"), "config"));

        LogConfigurator.configureESLogging();
        LogConfigurator.setNodeName(settings.get("node.name"));
        LogConfigurator.setClusterName(settings.get("cluster.name"));

        Node node = new ClasspathPluginsNode(settings, List.of(Netty4Plugin.class, RootInfoPlugin.class));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "es-launcher-shutdown"));

        try {
            node.start();
        } catch (Throwable t) { // e.g. port already in use: exit rather than linger with the node's threads
            t.printStackTrace();
            System.exit(1); // runs the shutdown hook, which closes the node
        }
        System.out.println("es-launcher: node [" + settings.get("node.name") + "] started, http "
            + settings.get("network.host") + ":" + settings.get("http.port"));
        stopped.await();
    }

    static Settings parseArgs(String[] args) {
        String home = null, data = null, host = "127.0.0.1", seedHosts = null, initialMasters = null;
        String httpPort = "9200", transportPort = "9300", nodeName = "node-1", clusterName = "forensics-test";
        Settings.Builder extra = Settings.builder();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help") || a.equals("-help")) {
                usage(null);
            }
            if (i + 1 >= args.length) {
                usage("missing value for " + a);
            }
            String v = args[++i];
            switch (a) {
                case "--home" -> home = v;
                case "--data" -> data = v;
                case "--host" -> host = v;
                case "--http-port" -> httpPort = v;
                case "--transport-port" -> transportPort = v;
                case "--node-name" -> nodeName = v;
                case "--cluster-name" -> clusterName = v;
                case "--seed-hosts" -> seedHosts = v;
                case "--initial-master-nodes" -> initialMasters = v;
                case "-E" -> {
                    int eq = v.indexOf('=');
                    if (eq <= 0) usage("-E expects key=value, got " + v);
                    extra.put(v.substring(0, eq), v.substring(eq + 1));
                }
                default -> usage("unknown option " + a);
            }
        }
        if (home == null) {
            usage("--home is required");
        }
        Path homePath = Path.of(home).toAbsolutePath();
        Settings.Builder s = Settings.builder()
            .put("path.home", homePath.toString())
            .put("path.data", data != null ? Path.of(data).toAbsolutePath().toString() : homePath.resolve("data").toString())
            .put("path.logs", homePath.resolve("logs").toString())
            .put("path.repo", homePath.resolve("snapshots").toString()) // allowed root for "fs" snapshot repositories
            .put("cluster.name", clusterName)
            .put("node.name", nodeName)
            .put("network.host", host)
            .put("http.port", httpPort)
            .put("transport.port", transportPort)
            .put("http.type", Netty4Plugin.NETTY_HTTP_TRANSPORT_NAME)
            .put("transport.type", Netty4Plugin.NETTY_TRANSPORT_NAME)
            // test machines may have little free disk: never flip indices to read-only because of it
            .put("cluster.routing.allocation.disk.threshold_enabled", false);
        if (seedHosts == null) {
            s.put("discovery.type", "single-node");
        } else {
            s.putList("discovery.seed_hosts", seedHosts.split(","));
            if (initialMasters != null) {
                s.putList("cluster.initial_master_nodes", initialMasters.split(","));
            }
        }
        return s.put(extra.build()).build();
    }

    private static void usage(String error) {
        if (error != null) {
            System.err.println("es-launcher: " + error);
        }
        System.err.println("usage: EsLauncher --home DIR [--data DIR] [--host ADDR] [--http-port N] [--transport-port N]"
            + " [--node-name NAME] [--cluster-name NAME] [--seed-hosts H:P,...] [--initial-master-nodes A,...] [-E key=value]...");
        System.exit(error == null ? 0 : 2);
    }
}
