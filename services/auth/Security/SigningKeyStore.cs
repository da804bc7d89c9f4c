using System.Security.Cryptography;
using EasyIm.Auth.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.Tokens;

namespace EasyIm.Auth.Security;

/// <summary>Holds the token signing key once it has been loaded from (or first made in) the auth database.</summary>
public sealed class SigningKeyStore
{
    private SymmetricSecurityKey? _key;

    public SymmetricSecurityKey Key => _key ?? throw new InvalidOperationException("The signing key has not been loaded yet.");

    internal void Set(byte[] key) => _key = new SymmetricSecurityKey(key);
}

internal sealed class LoadSigningKey(IServiceScopeFactory scopes, SigningKeyStore store) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AuthDbContext>();
        var existing = await db.SigningKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Id == 1, cancellationToken);
        if (existing is null)
        {
            db.SigningKeys.Add(new SigningKey { Id = 1, Key = RandomNumberGenerator.GetBytes(64) });
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException)
            {
                // Another replica made the key first; use that one.
                db.ChangeTracker.Clear();
            }
            existing = await db.SigningKeys.AsNoTracking().SingleAsync(k => k.Id == 1, cancellationToken);
        }
        store.Set(existing.Key);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
