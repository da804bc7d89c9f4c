using EasyIm.Auth.Data;
using Microsoft.AspNetCore.Identity;

namespace EasyIm.Auth.Security;

/// <summary>
/// ASP.NET Core Identity's password hasher: PBKDF2 with HMAC-SHA512, a random salt per
/// password and 100,000 iterations, in a versioned format it can upgrade later.
/// </summary>
public sealed class PasswordHashing
{
    private static readonly User Nobody = new() { Account = "", AccountKey = "", Nickname = "", PasswordHash = "" };
    private readonly PasswordHasher<User> _hasher = new();
    private readonly string _dummyHash;

    public PasswordHashing() => _dummyHash = _hasher.HashPassword(Nobody, Guid.NewGuid().ToString());

    public string Hash(string password) => _hasher.HashPassword(Nobody, password);

    public bool Verify(string hash, string password) =>
        _hasher.VerifyHashedPassword(Nobody, hash, password) != PasswordVerificationResult.Failed;

    /// <summary>
    /// Spends the time of a real check, so that an unknown account cannot be told from a wrong
    /// password by how long the answer takes.
    /// </summary>
    public void VerifyNothing(string password) => _hasher.VerifyHashedPassword(Nobody, _dummyHash, password);
}
