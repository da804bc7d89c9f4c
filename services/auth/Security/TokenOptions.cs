namespace EasyIm.Auth.Security;

/// <summary>The <c>Auth:Tokens</c> section: how long tokens live, and the grace for a repeated refresh.</summary>
public sealed class TokenOptions
{
    public const string Section = "Auth:Tokens";

    /// <summary>Seconds an access token lives (easyim's <c>expires_in</c>, 7200). A long connection is closed when its token expires unless renewed.</summary>
    public int AccessLifetimeSeconds { get; set; } = 7200;

    /// <summary>Seconds a refresh token lives (30 days). Each refresh replaces it with a new one of the same lifetime.</summary>
    public int RefreshLifetimeSeconds { get; set; } = 30 * 86400;

    /// <summary>
    /// Seconds after its rotation during which a refresh token presented again is answered with another
    /// new pair instead of revoking the session: a client whose refresh answer was lost may retry. 0 (the
    /// default) treats every reuse as theft. At most <see cref="MaxReuseGraceSeconds"/>.
    /// </summary>
    public int RefreshReuseGraceSeconds { get; set; }

    public const int MaxReuseGraceSeconds = 60;

    public TimeSpan AccessLifetime => TimeSpan.FromSeconds(AccessLifetimeSeconds);
    public TimeSpan RefreshLifetime => TimeSpan.FromSeconds(RefreshLifetimeSeconds);
    public TimeSpan RefreshReuseGrace => TimeSpan.FromSeconds(RefreshReuseGraceSeconds);

    /// <summary>Stops the process at start, naming the key, when a setting cannot work.</summary>
    public TokenOptions Validate()
    {
        static void Require(bool ok, string key, string rule, object value)
        {
            if (!ok)
                throw new Hosting.StartupException($"{Section}:{key} must be {rule}, not '{value}'.");
        }
        Require(AccessLifetimeSeconds is >= 1 and <= 7 * 86400, nameof(AccessLifetimeSeconds), "from 1 to 604800 seconds", AccessLifetimeSeconds);
        Require(RefreshLifetimeSeconds >= AccessLifetimeSeconds && RefreshLifetimeSeconds <= 365 * 86400, nameof(RefreshLifetimeSeconds),
            $"at least AccessLifetimeSeconds ({AccessLifetimeSeconds}) and at most 31536000 seconds", RefreshLifetimeSeconds);
        Require(RefreshReuseGraceSeconds is >= 0 and <= MaxReuseGraceSeconds, nameof(RefreshReuseGraceSeconds),
            $"from 0 to {MaxReuseGraceSeconds} seconds", RefreshReuseGraceSeconds);
        return this;
    }
}
