package org.elasticsearch.node;

import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.MockPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

import java.util.Collection;
import java.util.Map;

/**
 * A plain {@link Node} whose plugins are classes on the classpath (here: netty4), with no mock services.
 *
 * This is what the test framework's {@code MockNode} does, minus its dependency on {@code ESTestCase}: touching
 * that class runs {@code BootstrapForTesting}, which refuses to run as root ("can not run elasticsearch as root")
 * and installs test entitlements. It lives in this package only because {@code Node(NodeConstruction)} and
 * {@code NodeServiceProvider} are package-private.
 */
public class ClasspathPluginsNode extends Node {

    public ClasspathPluginsNode(Settings settings, Collection<Class<? extends Plugin>> classpathPlugins) {
        this(InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> "node"), classpathPlugins);
    }

    private ClasspathPluginsNode(Environment environment, Collection<Class<? extends Plugin>> classpathPlugins) {
        super(NodeConstruction.prepareConstruction(environment, null, new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, PluginsLoader pluginsLoader) {
                return new MockPluginsService(env.settings(), env, classpathPlugins);
            }
        }, true));
    }
}
