// A desktop stand-in for the Kotlin class dev.bokeh.Bokeh: the same native methods, so that
// scripts/test_ffi.sh can load bokeh_jni.c into a real JVM and check the YUV_420_888 path
// (NV21 laid out as Android's Image planes: V and U views over one interleaved buffer) against
// the Rust API's output. Usage: java -Djava.library.path=DIR dev.bokeh.Bokeh FIXTURES_DIR
package dev.bokeh;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

public final class Bokeh {
    static native long nativeCreate(int mode, int blur, float strength, int threads, boolean smoothing);
    static native void nativeDestroy(long handle);
    static native void nativeSetSettings(long handle, int mode, int blur, float strength, int threads,
            boolean smoothing);
    static native void nativeProcessYuv420(long handle, int width, int height, ByteBuffer y, int yStride,
            ByteBuffer u, ByteBuffer v, int uvRowStride, int uvPixelStride, boolean fullRange, ByteBuffer out,
            int outStride, int outFormat);

    public static void main(String[] args) throws Exception {
        System.loadLibrary("bokeh_jni");
        Path dir = Path.of(args[0]);
        // Fixture nv21_odd: 101x77 NV21, BT.601 limited, blur with strength 0.04, RGBA out.
        int w = 101, h = 77, cw = (w + 1) / 2, ch = (h + 1) / 2;
        byte[] in = Files.readAllBytes(dir.resolve("nv21_odd.in"));
        byte[] expected = Files.readAllBytes(dir.resolve("nv21_odd.expected"));
        ByteBuffer all = ByteBuffer.allocateDirect(in.length);
        all.put(in);
        ByteBuffer y = all.duplicate().position(0).limit(w * h).slice();
        // Android's planes for NV21: plane V starts at the interleaved data, plane U one byte
        // later, each view one byte shorter than the interleaved plane.
        int vuLength = cw * 2 * ch;
        ByteBuffer v = all.duplicate().position(w * h).limit(w * h + vuLength - 1).slice();
        ByteBuffer u = all.duplicate().position(w * h + 1).limit(w * h + vuLength).slice();
        ByteBuffer out = ByteBuffer.allocateDirect(w * h * 4);

        // Smoothing on, as for a camera: the first frame is the model's mask as is.
        long handle = nativeCreate(0, 0, 0.04f, 0, true);
        nativeProcessYuv420(handle, w, h, y, w, u, v, cw * 2, 2, false, out, w * 4, 2);
        byte[] got = new byte[w * h * 4];
        out.get(got);
        if (!java.util.Arrays.equals(got, expected)) throw new AssertionError("JNI output differs from the Rust API");

        // Errors arrive as exceptions with the library's message.
        try {
            nativeProcessYuv420(handle, w, h, y, w, u, v, cw * 2, 2, false, out, w * 2, 2);
            throw new AssertionError("a too-small output stride was accepted");
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().contains("BOKEH_STATUS_INVALID_FRAME")) throw e;
        }
        try {
            nativeSetSettings(handle, 0, 0, 9.0f, 0, true);
            throw new AssertionError("strength 9 was accepted");
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().contains("strength")) throw e;
        }
        nativeDestroy(handle);
        System.out.println("JNI: NV21 through the JNI glue matches the Rust API; errors become exceptions");
    }
}
