namespace EasyIm.Contracts.Friends;

/// <summary>The group's settings after an <see cref="UpdateGroupSettings"/>.</summary>
public sealed record GroupSettingsUpdated(long GroupId, string InvitePolicy);
