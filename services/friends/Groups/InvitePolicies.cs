using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;

namespace EasyIm.Friends.Groups;

/// <summary>The stored <see cref="GroupInvitePolicy"/> and its API spelling (<see cref="GroupInvitePolicies"/>).</summary>
public static class InvitePolicies
{
    public static string ToWire(GroupInvitePolicy policy) => policy switch
    {
        GroupInvitePolicy.Admins => GroupInvitePolicies.Admins,
        _ => GroupInvitePolicies.Members,
    };

    public static bool TryParse(string text, out GroupInvitePolicy policy)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case GroupInvitePolicies.Members:
                policy = GroupInvitePolicy.Members;
                return true;
            case GroupInvitePolicies.Admins:
                policy = GroupInvitePolicy.Admins;
                return true;
            default:
                policy = default;
                return false;
        }
    }
}
