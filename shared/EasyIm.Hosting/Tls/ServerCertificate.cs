using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace EasyIm.Hosting.Tls;

/// <summary>
/// <c>EasyIm:Tls</c>: a certificate for the ports clients use (the HTTP API with its WebSocket upgrades, and the long
/// connection port's raw TCP and WebSocket). A PEM certificate with its PEM key (<see cref="KeyPath"/>, or in the same
/// file), or a PKCS#12 file (<c>.pfx</c>, <c>.p12</c>); <see cref="Password"/> for an encrypted key or a PKCS#12 file.
/// Unset, those ports are plaintext.
/// </summary>
public sealed class TlsOptions
{
    public const string Section = "EasyIm:Tls";

    public string? CertificatePath { get; set; }
    public string? KeyPath { get; set; }
    public string? Password { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(CertificatePath);

    public static TlsOptions Read(IConfiguration configuration) => configuration.GetSection(Section).Get<TlsOptions>() ?? new TlsOptions();
}

/// <summary>
/// The server's certificate, loaded at start (a missing or unreadable file stops the start, naming the setting) and
/// loaded again when its files change (a renewal: new connections get the new certificate; a file that does not load
/// keeps the old one, logged). Every TLS handshake asks it for the current one.
/// </summary>
public sealed class ServerCertificate : IDisposable
{
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(500);

    private readonly TlsOptions _options;
    private readonly ILogger<ServerCertificate> _logger;
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly Timer _reload;
    private X509Certificate2 _current;

    public ServerCertificate(TlsOptions options, ILogger<ServerCertificate> logger)
    {
        _options = options;
        _logger = logger;
        try
        {
            _current = Load(options);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new StartupException($"{TlsOptions.Section}:{nameof(TlsOptions.CertificatePath)} '{options.CertificatePath}' " +
                $"{(options.KeyPath is { Length: > 0 } ? $"(key {TlsOptions.Section}:{nameof(TlsOptions.KeyPath)} '{options.KeyPath}') " : "")}could not be loaded: {ex.Message}");
        }
        _reload = new Timer(_ => Reload());
        foreach (var path in new[] { options.CertificatePath, options.KeyPath }.Where(p => !string.IsNullOrWhiteSpace(p)).Select(p => Path.GetFullPath(p!)).Distinct())
        {
            var watcher = new FileSystemWatcher(Path.GetDirectoryName(path)!, Path.GetFileName(path))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            watcher.Changed += (_, _) => _reload.Change(Settle, Timeout.InfiniteTimeSpan);
            watcher.Created += (_, _) => _reload.Change(Settle, Timeout.InfiniteTimeSpan);
            watcher.Renamed += (_, _) => _reload.Change(Settle, Timeout.InfiniteTimeSpan);
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }
        _logger.LogInformation("TLS certificate {Subject} ({Thumbprint}), valid until {NotAfter:u}", _current.Subject, _current.Thumbprint, _current.NotAfter);
    }

    public X509Certificate2 Current => Volatile.Read(ref _current);

    /// <summary>Changes of the files that did not load (the current certificate kept): for tests.</summary>
    internal int FailedReloads => Volatile.Read(ref _failedReloads);

    private int _failedReloads;

    /// <summary>Kestrel's TLS on a listener, with the current certificate for every handshake.</summary>
    public HttpsConnectionAdapterOptions HttpsOptions() => new()
    {
        ServerCertificateSelector = (_, _) => Current,
        // A client that sends nothing (or plaintext that is not a handshake) is closed, never held.
        HandshakeTimeout = TimeSpan.FromSeconds(10),
    };

    private void Reload()
    {
        try
        {
            var next = Load(_options);
            var previous = Interlocked.Exchange(ref _current, next);
            _logger.LogInformation("TLS certificate reloaded: {Subject} ({Thumbprint}), valid until {NotAfter:u}; was {Previous}",
                next.Subject, next.Thumbprint, next.NotAfter, previous.Thumbprint);
        }
        catch (Exception ex)
        {
            // A renewal written in two steps (certificate, then key) fails in between; the next change loads it.
            Interlocked.Increment(ref _failedReloads);
            _logger.LogError("TLS certificate files changed but did not load ({Error}); still serving {Thumbprint}", ex.Message, Current.Thumbprint);
        }
    }

    private static X509Certificate2 Load(TlsOptions options)
    {
        var path = options.CertificatePath!;
        var extension = Path.GetExtension(path);
        if (extension.Equals(".pfx", StringComparison.OrdinalIgnoreCase) || extension.Equals(".p12", StringComparison.OrdinalIgnoreCase))
            return X509CertificateLoader.LoadPkcs12FromFile(path, options.Password);
        var key = string.IsNullOrWhiteSpace(options.KeyPath) ? path : options.KeyPath;
        return string.IsNullOrEmpty(options.Password)
            ? X509Certificate2.CreateFromPemFile(path, key)
            : X509Certificate2.CreateFromEncryptedPemFile(path, options.Password, key);
    }

    public void Dispose()
    {
        foreach (var watcher in _watchers)
            watcher.Dispose();
        _reload.Dispose();
    }
}

public static class TlsListening
{
    /// <summary>TLS on this listener when a certificate is configured (<see cref="TlsOptions"/>), after any connection middleware added before.</summary>
    public static void UseTlsWhenConfigured(this ListenOptions listen)
    {
        if (listen.ApplicationServices.GetService(typeof(ServerCertificate)) is ServerCertificate certificate)
            listen.UseHttps(certificate.HttpsOptions());
    }
}
