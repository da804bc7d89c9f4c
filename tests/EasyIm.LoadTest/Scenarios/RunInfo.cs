using System.Diagnostics;
using System.Security.Cryptography;
using EasyIm.Client;
using EasyIm.LoadTest.Targets;

namespace EasyIm.LoadTest.Scenarios;

/// <summary>Options every scenario has.</summary>
/// <param name="ServerSettings">The <c>--server-setting</c>s, as environment variables: over the scenario's own.</param>
/// <param name="CommandLine">The command as typed.</param>
/// <param name="FullCommandLine">The same with every option spelled out, defaults included.</param>
public sealed record CommonOptions(
    Shape Shape, ClientTransport Transport, bool Baseline, InfrastructureOptions Infrastructure,
    IReadOnlyDictionary<string, string> ServerSettings, string CommandLine, string FullCommandLine)
{
    /// <summary>The scenario's settings for the server, in order, then the <c>--server-setting</c>s over them.</summary>
    public Dictionary<string, string> Settings(params IReadOnlyDictionary<string, string>[] layers)
    {
        var settings = new Dictionary<string, string>();
        foreach (var layer in layers.Append(ServerSettings))
        {
            foreach (var (key, value) in layer)
                settings[key] = value;
        }
        return settings;
    }
}

/// <summary>A <c>--server-setting Key=Value</c>: a configuration key (<c>Gateway:RateLimit:PerSecond</c>) and its value.</summary>
public static class ServerSetting
{
    /// <summary>The key as an environment variable (<c>Gateway__RateLimit__PerSecond</c>) and the value; an <see cref="ArgumentException"/> names what is wrong.</summary>
    public static (string Variable, string Value) Parse(string argument)
    {
        var equals = argument.IndexOf('=');
        var key = equals > 0 ? argument[..equals].Trim() : "";
        var sections = key.Replace("__", ":", StringComparison.Ordinal).Split(':');
        if (key.Length == 0 || sections.Any(s => s.Length == 0 || !s.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')) || !char.IsAsciiLetter(sections[0][0]))
            throw new ArgumentException($"--server-setting takes Key=Value with a configuration key such as Gateway:RateLimit:PerSecond=200, not '{argument}'");
        return (string.Join("__", sections), argument[(equals + 1)..]);
    }
}

/// <summary>One invocation of the tool: its id (in account names, the vhost and database names, content) and where logs go.</summary>
public sealed class RunInfo
{
    private RunInfo(string id)
    {
        Id = id;
        LogDirectory = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "easyim-load-" + id)).FullName;
    }

    /// <summary>Eight hex digits.</summary>
    public string Id { get; }

    /// <summary>The server processes' logs, kept after the run.</summary>
    public string LogDirectory { get; }

    public static RunInfo Start() => new(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));

    /// <summary>The commit the server under test was built from (its informational version), or "unknown".</summary>
    public static string ServerBuild()
    {
        var version = FileVersionInfo.GetVersionInfo(Path.Combine(AppContext.BaseDirectory, "easyim.dll")).ProductVersion;
        var plus = version?.IndexOf('+') ?? -1;
        return plus >= 0 && version!.Length >= plus + 8 ? "commit " + version.Substring(plus + 1, 7) : "unknown build";
    }

    /// <summary>The shape and transport in the CLI's words.</summary>
    public static string TransportName(ClientTransport transport) => transport switch
    {
        ClientTransport.WebSocketJson => "ws-json",
        ClientTransport.WebSocketProtobuf => "ws-protobuf",
        ClientTransport.TcpJson => "tcp-json",
        ClientTransport.TcpProtobuf => "tcp-protobuf",
        _ => transport.ToString(),
    };

    /// <summary>The cores, and how busy the machine was as the run started (the figures of a shared machine move with it).</summary>
    public static string Machine()
    {
        string load;
        try
        {
            load = ", load average " + File.ReadAllText("/proc/loadavg").Split(' ')[0] + " at the start";
        }
        catch (IOException)
        {
            load = "";
        }
        return $"{Environment.ProcessorCount} cores{load}, load client on the same machine";
    }
}
