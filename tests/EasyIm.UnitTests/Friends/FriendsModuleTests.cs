using EasyIm.Auth;
using EasyIm.Friends;
using EasyIm.Friends.Data;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EasyIm.UnitTests.Friends;

public sealed class FriendsModuleTests : IDisposable
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "easyim-friends-module-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dataDirectory))
            Directory.Delete(_dataDirectory, recursive: true);
    }

    [Fact]
    public async Task The_friends_database_is_migrated_at_start_beside_another_services()
    {
        Directory.CreateDirectory(_dataDirectory);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration["EasyIm:DataDirectory"] = _dataDirectory;
        builder.Configuration["Ids:NodeId"] = "3";
        // Auth first: the friends service must not be the one whose migrations are skipped.
        builder.AddAuth();
        builder.AddFriends();
        using var host = builder.Build();

        foreach (var service in host.Services.GetServices<IHostedService>())
            await service.StartAsync(CancellationToken.None);

        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<FriendsDbContext>();
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        Assert.Equal(0, await db.FriendRequests.CountAsync());
        foreach (var service in host.Services.GetServices<IHostedService>().Reverse())
            await service.StopAsync(CancellationToken.None);
    }
}
