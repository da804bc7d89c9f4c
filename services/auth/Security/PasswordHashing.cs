using EasyIm.Auth.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace EasyIm.Auth.Security;

/// <summary>
/// ASP.NET Core Identity's password hasher: PBKDF2 with HMAC-SHA512, a random salt per
/// password and <c>Auth:PasswordIterations</c> iterations (100,000 by default), in a versioned
/// format that records the count, so changing the setting never breaks stored hashes.
/// </summary>
public sealed class PasswordHashing
{
    public const string IterationsKey = "Auth:PasswordIterations";
    public const int DefaultIterations = 100_000;
    /// <summary>Below this a hash is too cheap to slow down a guesser; load tests that register thousands of users use it.</summary>
    public const int MinIterations = 1_000;

    private static readonly User Nobody = new() { Account = "", AccountKey = "", Nickname = "", PasswordHash = "" };
    private readonly PasswordHasher<User> _hasher;
    private readonly string _dummyHash;

    public PasswordHashing(int iterations = DefaultIterations)
    {
        if (iterations < MinIterations)
            throw new Hosting.StartupException($"{IterationsKey} must be at least {MinIterations}, not {iterations}.");
        _hasher = new PasswordHasher<User>(Options.Create(new PasswordHasherOptions { IterationCount = iterations }));
        _dummyHash = _hasher.HashPassword(Nobody, Guid.NewGuid().ToString());
    }

    public string Hash(string password) => _hasher.HashPassword(Nobody, password);

    public bool Verify(string hash, string password) =>
        _hasher.VerifyHashedPassword(Nobody, hash, password) != PasswordVerificationResult.Failed;

    /// <summary>
    /// Spends the time of a real check, so that an unknown account cannot be told from a wrong
    /// password by how long the answer takes. Always false.
    /// </summary>
    public bool VerifyNothing(string password)
    {
        _hasher.VerifyHashedPassword(Nobody, _dummyHash, password);
        return false;
    }
}
