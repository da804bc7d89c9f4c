using Microsoft.Extensions.Configuration;

namespace EasyIm.Hosting;

public static class EasyImConfiguration
{
    public const string DataDirectoryKey = "EasyIm:DataDirectory";

    /// <summary>
    /// easyim's <c>.env</c> names and what they mean here, so an easyim deployment moves over as is.
    /// <c>MSG_FORMAT</c> needs no mapping: each connection is answered in the format it speaks.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> LegacyNames = new Dictionary<string, string>
    {
        ["SERVER_PORT"] = "Gateway:Port",
        ["API_SERVER_PORT"] = "Gateway:ApiPort",
        ["SERVER_DROP_AFTER"] = "Gateway:DropAfter",
        ["DB_DRIVER"] = "Database:Provider",
    };

    /// <summary>
    /// Reads easyim's names from the environment and from a <c>.env</c> file in the working
    /// directory (the environment wins, as in easyim), mapped to EasyIm's keys.
    /// </summary>
    public static IDictionary<string, string?> ReadLegacySettings(string workingDirectory)
    {
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        var dotEnv = Path.Combine(workingDirectory, ".env");
        if (File.Exists(dotEnv))
        {
            foreach (var line in File.ReadLines(dotEnv))
            {
                var text = line.Trim();
                if (text.Length == 0 || text[0] == '#')
                    continue;
                var eq = text.IndexOf('=');
                if (eq <= 0)
                    continue;
                found[text[..eq].Trim()] = text[(eq + 1)..].Trim().Trim('"', '\'');
            }
        }
        foreach (var name in LegacyNames.Keys)
        {
            if (Environment.GetEnvironmentVariable(name) is { Length: > 0 } value)
                found[name] = value;
        }

        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, key) in LegacyNames)
        {
            if (found.TryGetValue(name, out var value))
                settings[key] = name == "DB_DRIVER" ? MapDriver(value) : value;
        }
        return settings;
    }

    private static string MapDriver(string driver) => driver.ToLowerInvariant() switch
    {
        "sqlite3" or "sqlite" => "Sqlite",
        "postgres" or "postgresql" or "pgsql" => "Postgres",
        _ => driver,
    };

    /// <summary>The data directory as an absolute path, created if missing. Relative paths are relative to the working directory.</summary>
    public static string GetDataDirectory(this IConfiguration configuration)
    {
        var path = Path.GetFullPath(configuration[DataDirectoryKey] is { Length: > 0 } dir ? dir : "data");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>
    /// A section bound to its options class (defaults where unset). A value of the wrong type stops the
    /// start with the binder's message, which names the key (<c>... value at 'Gateway:Throttle:Login:Limit' ...</c>).
    /// </summary>
    public static T BindSection<T>(this IConfiguration configuration, string section) where T : new()
    {
        try
        {
            return configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException ex)
        {
            throw new StartupException(ex.Message);
        }
    }

    public static int GetPort(this IConfiguration configuration, string key, int defaultPort)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
            return defaultPort;
        if (!int.TryParse(text, out var port) || port is < 0 or > 65535)
            throw new StartupException($"{key} must be a port number from 0 to 65535, not '{text}'.");
        return port;
    }
}
