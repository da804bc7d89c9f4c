using EasyIm.Friends.Data;
using EasyIm.Hosting;
using Microsoft.Extensions.Configuration;

namespace EasyIm.Friends;

/// <summary>
/// The <c>Friends</c> section of the configuration: how much of the friends service one user may take.
/// Input lengths are fixed rules shared with the gateway (<c>FriendRules</c>); these are the counts.
/// </summary>
public sealed class FriendsOptions
{
    public const string Section = "Friends";

    /// <summary>
    /// Most members a group may have, the owner included. Every group message is stored once but pushed
    /// to every member, so this bounds what one sender costs; a create or invite that would pass it is refused (409).
    /// </summary>
    public int MaxGroupMembers { get; set; } = 2000;

    /// <summary>Most groups one user may be a member of; a create or invite that would pass it for anyone is refused (409).</summary>
    public int MaxGroupsPerUser { get; set; } = 500;

    /// <summary>
    /// Most friend requests of one user that may wait for an answer at once, whether sent over HTTP or the
    /// connection; more is refused (429) until some are answered. Each one is a row and a FRIEND_INVITE
    /// pushed to a stranger, so without it one account could invite every user.
    /// </summary>
    public int MaxPendingFriendRequests { get; set; } = 100;

    /// <summary>Most users one user may block; blocking more is refused (429) until some are unblocked.</summary>
    public int MaxBlockedUsers { get; set; } = 1000;

    /// <summary>Who may invite to a new group until its owner changes it: <c>Members</c> (easyim's rule) or <c>Admins</c>.</summary>
    public GroupInvitePolicy DefaultInvitePolicy { get; set; } = GroupInvitePolicy.Members;

    /// <summary>Reads the section and stops the process at start, naming the key, when a setting cannot work.</summary>
    public static FriendsOptions Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var options = new FriendsOptions();
        options.MaxGroupMembers = Whole(section, nameof(MaxGroupMembers), options.MaxGroupMembers, 2, 1_000_000);
        options.MaxGroupsPerUser = Whole(section, nameof(MaxGroupsPerUser), options.MaxGroupsPerUser, 1, 1_000_000);
        options.MaxPendingFriendRequests = Whole(section, nameof(MaxPendingFriendRequests), options.MaxPendingFriendRequests, 1, 1_000_000);
        options.MaxBlockedUsers = Whole(section, nameof(MaxBlockedUsers), options.MaxBlockedUsers, 1, 1_000_000);
        var policy = section[nameof(DefaultInvitePolicy)];
        if (!string.IsNullOrWhiteSpace(policy))
        {
            options.DefaultInvitePolicy = Enum.TryParse<GroupInvitePolicy>(policy.Trim(), ignoreCase: true, out var parsed) && Enum.IsDefined(parsed)
                ? parsed
                : throw new StartupException($"{Section}:{nameof(DefaultInvitePolicy)} must be Members or Admins, not '{policy}'.");
        }
        return options;
    }

    private static int Whole(IConfigurationSection section, string key, int fallback, int min, int max)
    {
        var text = section[key];
        if (string.IsNullOrWhiteSpace(text))
            return fallback;
        return int.TryParse(text, out var value) && value >= min && value <= max
            ? value
            : throw new StartupException($"{Section}:{key} must be a whole number from {min} to {max}, not '{text}'.");
    }
}
