namespace EasyIm.Auth.Security;

/// <summary>
/// The <c>Auth:Throttle</c> section: how many wrong passwords an account takes, and how much password
/// hashing auth does at once. Per account, because auth is the one process that sees every login for an
/// account, whichever gateway it came through (the gateways budget each client address).
/// </summary>
public sealed class LoginThrottleOptions
{
    public const string Section = "Auth:Throttle";

    /// <summary>Wrong passwords (or unknown-account logins) an account takes within <see cref="LoginFailureWindowSeconds"/>.</summary>
    public int LoginFailures { get; set; } = 10;

    /// <summary>The window of <see cref="LoginFailures"/>: once spent, one more attempt each window / failures.</summary>
    public int LoginFailureWindowSeconds { get; set; } = 900;

    /// <summary>
    /// Logins of one account waiting behind the one being checked; more at once are answered 429 (not counted:
    /// no password was tried). One at a time per account, so that concurrent guesses cannot all pass the failure
    /// check before any is counted. Larger than <see cref="LoginFailures"/>, so that a burst of wrong passwords
    /// sent at once spends the account's budget as surely as one sent in turn; waiting costs no CPU, and past
    /// the budget each check is answered without hashing.
    /// </summary>
    public int AccountQueue { get; set; } = 32;

    /// <summary>Password hashes computed at once (login and registration); 0: half the cores, at least 1.</summary>
    public int HashConcurrency { get; set; }

    /// <summary>Logins and registrations waiting for a hash slot; more are answered 503 at once.</summary>
    public int HashQueue { get; set; } = 32;

    /// <summary><see cref="HashConcurrency"/> as used: the setting, or half the cores.</summary>
    public int EffectiveHashConcurrency => HashConcurrency > 0 ? HashConcurrency : Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>Time for one spent failure to come back.</summary>
    public TimeSpan FailureRefill => TimeSpan.FromSeconds((double)LoginFailureWindowSeconds / LoginFailures);

    /// <summary>Stops the process at start, naming the key, when a setting cannot work.</summary>
    public void Validate()
    {
        static void Require(bool ok, string key, string rule, object value)
        {
            if (!ok)
                throw new Hosting.StartupException($"{Section}:{key} must be {rule}, not '{value}'.");
        }
        Require(LoginFailures is >= 1 and <= 1_000_000, nameof(LoginFailures), "from 1 to 1000000", LoginFailures);
        Require(LoginFailureWindowSeconds is >= 1 and <= 7 * 24 * 3600, nameof(LoginFailureWindowSeconds), "from 1 to 604800 seconds", LoginFailureWindowSeconds);
        Require(AccountQueue is >= 0 and <= 1000, nameof(AccountQueue), "from 0 to 1000", AccountQueue);
        Require(HashConcurrency is >= 0 and <= 1024, nameof(HashConcurrency), "from 0 (half the cores) to 1024", HashConcurrency);
        Require(HashQueue is >= 0 and <= 100_000, nameof(HashQueue), "from 0 to 100000", HashQueue);
    }
}
