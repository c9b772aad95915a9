namespace Lab.Hosting;

/// <summary>A configuration file that is missing or holds a bad value. The message names the file and key,
/// e.g. <c>config.ini: [server] heartbeat_interval = "abc" is not a number of seconds</c>; programs
/// print it as their one-line fatal error.</summary>
public sealed class ConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
